extension UID {
    /// The wire form as 32 lowercase hex digits: how Redis keys and stream fields name an
    /// element (any UTF-8 UID, the central's empty one included, without escaping).
    public var hex: String { Hex.encode(self.raw.bytes) }

    /// A UID from 32 hex digits of its wire form.
    /// - Throws: ``IoTSocketError`` for bad hex or a wire form that is not a valid UID.
    public init(hex: String) throws(IoTSocketError) {
        try self.init(wireBytes: try Hex.decode(hex, byteCount: UID.wireLength, field: "UID"))
    }
}
