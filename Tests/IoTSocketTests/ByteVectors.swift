import IoTSocket
import NIOCore

/// Bytes from hex written the way PROTOCOL.md reads: spaces and line breaks are ignored.
func bytes(_ hex: String) -> [UInt8] {
    let digits = Array(hex.unicodeScalars.filter { !$0.properties.isWhitespace })
    precondition(digits.count % 2 == 0, "odd number of hex digits in test vector")
    return stride(from: 0, to: digits.count, by: 2).map { index in
        UInt8(String(digits[index]) + String(digits[index + 1]), radix: 16)!
    }
}

/// The 16-byte padded form of an ASCII name, built independently of the library's padding code.
func padded(_ name: String) -> [UInt8] {
    [UInt8](repeating: 0, count: 16 - name.utf8.count) + Array(name.utf8)
}

func buffer(_ content: [UInt8]) -> ByteBuffer {
    ByteBuffer(bytes: content)
}

func buffer(_ hex: String) -> ByteBuffer {
    ByteBuffer(bytes: bytes(hex))
}

extension ByteBuffer {
    /// The readable bytes, for comparisons.
    var readable: [UInt8] { Array(self.readableBytesView) }
}

/// The bytes a value's `write(to:)` produces.
func encoded(_ write: (inout ByteBuffer) -> Void) -> [UInt8] {
    var buffer = ByteBuffer()
    write(&buffer)
    return buffer.readable
}
