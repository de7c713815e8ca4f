import NIOCore

/// The data of a Request, Response or telemetry: `format (4 bits) | options (4 bits)`,
/// a 16-bit length, then that many bytes.
///
/// A value of this type always fits the wire: the initializer refuses data above 65,535 bytes
/// and options above 15.
public struct PayloadBlock: Hashable, Sendable {
    /// The largest data length the 16-bit length field can announce.
    public static let maximumDataLength = Int(UInt16.max)
    /// Bytes in front of the data: format/options and length.
    public static let headerLength = 3

    /// The empty binary block that the concentrator's own error responses carry.
    public static let empty = PayloadBlock(uncheckedFormat: .binary, options: 0, data: [])

    public let format: PayloadFormat
    /// Format-specific flags (4 bits); the protocol says to send 0.
    public let options: UInt8
    public let data: [UInt8]

    /// - Throws: ``IoTSocketError/payloadTooLong(length:)`` above 65,535 bytes,
    ///   ``IoTSocketError/payloadOptionsOutOfRange(_:)`` above 15.
    public init(format: PayloadFormat, options: UInt8 = 0, data: [UInt8]) throws(IoTSocketError) {
        guard data.count <= Self.maximumDataLength else { throw .payloadTooLong(length: data.count) }
        guard options <= 0x0F else { throw .payloadOptionsOutOfRange(options) }
        self.init(uncheckedFormat: format, options: options, data: data)
    }

    init(uncheckedFormat format: PayloadFormat, options: UInt8, data: [UInt8]) {
        self.format = format
        self.options = options
        self.data = data
    }

    /// Header plus data.
    public var wireLength: Int { Self.headerLength + self.data.count }

    /// Reads one block; nil (nothing read) until the whole block is readable.
    /// - Throws: ``IoTSocketError/unknownPayloadFormat(_:)``; the reader index is then unchanged.
    public static func read(from buffer: inout ByteBuffer) throws(IoTSocketError) -> PayloadBlock? {
        guard let (formatAndOptions, length) = buffer.getMultipleIntegers(
            at: buffer.readerIndex,
            as: (UInt8, UInt16).self
        ) else { return nil }
        let format = try PayloadFormat(nibble: formatAndOptions >> 4)
        guard buffer.readableBytes >= Self.headerLength + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: Self.headerLength)
        // Length checked just above.
        let data = buffer.readBytes(length: Int(length))!
        return PayloadBlock(uncheckedFormat: format, options: formatAndOptions & 0x0F, data: data)
    }

    /// The total wire length of the block starting `offset` bytes after the reader index, or nil
    /// until its 3-byte header is readable.
    /// - Throws: ``IoTSocketError/unknownPayloadFormat(_:)``, so garbage fails before its data arrives.
    static func wireLength(peekingAt buffer: ByteBuffer, offset: Int) throws(IoTSocketError) -> Int? {
        let start = buffer.readerIndex + offset
        // The format byte is checked on its own so that garbage fails on the first byte possible.
        guard let formatAndOptions = buffer.getInteger(at: start, as: UInt8.self) else { return nil }
        _ = try PayloadFormat(nibble: formatAndOptions >> 4)
        guard let length = buffer.getInteger(at: start + 1, as: UInt16.self) else { return nil }
        return Self.headerLength + Int(length)
    }

    public func write(to buffer: inout ByteBuffer) {
        buffer.writeMultipleIntegers(self.format.rawValue << 4 | self.options, UInt16(self.data.count))
        buffer.writeBytes(self.data)
    }
}
