import NIOCore

extension JSONValue {
    /// Parses one strict RFC 8259 JSON text (UTF-8, no BOM).
    ///
    /// - Parameters:
    ///   - bytes: the whole text; any non-whitespace after the value is an error.
    ///   - maximumDepth: how many arrays/objects may nest; deeper input is refused.
    /// - Throws: ``JSONParseError`` with the byte offset where parsing stopped.
    public init(
        parsing bytes: some Collection<UInt8>,
        maximumDepth: Int = JSONValue.defaultMaximumDepth
    ) throws(JSONParseError) {
        // Typed errors do not survive `rethrows`, hence the detour through Result.
        let parse = { (buffer: UnsafeBufferPointer<UInt8>) -> Result<JSONValue, JSONParseError> in
            Result { () throws(JSONParseError) in try JSONParser.parse(buffer, maximumDepth: maximumDepth) }
        }
        if let result = bytes.withContiguousStorageIfAvailable(parse) {
            self = try result.get()
        } else {
            self = try Array(bytes).withUnsafeBufferPointer(parse).get()
        }
    }

    /// Parses a JSON text given as a string.
    /// - Throws: ``JSONParseError``; offsets count UTF-8 bytes.
    public init(parsing text: String, maximumDepth: Int = JSONValue.defaultMaximumDepth) throws(JSONParseError) {
        try self.init(parsing: Array(text.utf8), maximumDepth: maximumDepth)
    }

    /// Parses the readable bytes of `buffer` (an HTTP body, say) without moving its reader index.
    /// - Throws: ``JSONParseError``; offsets count from the reader index.
    public init(parsing buffer: ByteBuffer, maximumDepth: Int = JSONValue.defaultMaximumDepth) throws(JSONParseError) {
        try self.init(parsing: buffer.readableBytesView, maximumDepth: maximumDepth)
    }
}
