import NIOCore

/// The 16 random bytes the concentrator sends for the client to sign with its auth key.
///
/// Must be fresh for every connection, from ``Challenge/random()``.
public struct Challenge: Hashable, Sendable {
    public static let byteCount = 16

    let raw: Bytes16

    init(raw: Bytes16) {
        self.raw = raw
    }

    /// - Throws: ``IoTSocketError/wrongByteCount(field:expected:actual:)`` unless 16 bytes.
    public init(bytes: some Collection<UInt8>) throws(IoTSocketError) {
        guard let raw = Bytes16(bytes) else {
            throw .wrongByteCount(field: "challenge", expected: Self.byteCount, actual: bytes.count)
        }
        self.raw = raw
    }

    /// A fresh challenge from the system CSPRNG (getrandom on Linux, arc4random on Darwin).
    public static func random() -> Challenge {
        var generator = SystemRandomNumberGenerator()
        return Challenge(raw: Bytes16(high: generator.next(), low: generator.next()))
    }

    public var bytes: [UInt8] { self.raw.bytes }

    /// Reads 16 bytes; nil (nothing read) when fewer are readable.
    public static func read(from buffer: inout ByteBuffer) -> Challenge? {
        buffer.readBytes16().map(Challenge.init(raw:))
    }

    public func write(to buffer: inout ByteBuffer) {
        buffer.writeBytes16(self.raw)
    }
}
