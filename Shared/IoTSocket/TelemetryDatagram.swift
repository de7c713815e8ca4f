import NIOCore

/// One UDP telemetry datagram: `token (8 bytes)` + payload block, nothing after the block.
public struct TelemetryDatagram: Hashable, Sendable {
    /// Token plus payload block header: the length of a datagram with no payload data.
    public static let headerLength = TelemetryToken.byteCount + PayloadBlock.headerLength

    public var token: TelemetryToken
    public var payload: PayloadBlock

    public init(token: TelemetryToken, payload: PayloadBlock) {
        self.token = token
        self.payload = payload
    }

    /// Parses a whole datagram (the readable bytes of `datagram`).
    ///
    /// Cheap enough for the hot path: fixed-offset integer reads and one copy of the data.
    /// - Throws: ``IoTSocketError/datagramTooShort(length:)``,
    ///   ``IoTSocketError/unknownPayloadFormat(_:)`` or
    ///   ``IoTSocketError/datagramLengthMismatch(datagramLength:expected:)`` when the datagram is
    ///   not exactly 11 + the block's length bytes.
    public init(parsing datagram: ByteBuffer) throws(IoTSocketError) {
        let start = datagram.readerIndex
        guard let (token, formatAndOptions, length) = datagram.getMultipleIntegers(
            at: start,
            as: (UInt64, UInt8, UInt16).self
        ) else { throw .datagramTooShort(length: datagram.readableBytes) }
        let format = try PayloadFormat(nibble: formatAndOptions >> 4)
        let expected = Self.headerLength + Int(length)
        guard datagram.readableBytes == expected else {
            throw .datagramLengthMismatch(datagramLength: datagram.readableBytes, expected: expected)
        }
        self.token = TelemetryToken(rawValue: token)
        // Length checked just above.
        let data = datagram.getBytes(at: start + Self.headerLength, length: Int(length))!
        self.payload = PayloadBlock(uncheckedFormat: format, options: formatAndOptions & 0x0F, data: data)
    }

    /// The token of a datagram without parsing the rest, so unknown tokens are dropped before
    /// any copy; nil when the datagram is shorter than a token.
    public static func peekToken(in datagram: ByteBuffer) -> TelemetryToken? {
        datagram.getInteger(at: datagram.readerIndex, as: UInt64.self).map(TelemetryToken.init(rawValue:))
    }

    public var wireLength: Int { TelemetryToken.byteCount + self.payload.wireLength }

    public func write(to buffer: inout ByteBuffer) {
        self.token.write(to: &buffer)
        self.payload.write(to: &buffer)
    }
}
