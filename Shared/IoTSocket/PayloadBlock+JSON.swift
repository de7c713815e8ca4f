extension PayloadBlock {
    /// The block for a payload given in JSON with its `"Format"`:
    /// JSON → any value (its compact text becomes the data); ASCII → a string of ASCII only;
    /// UTF8 → a string; BINARY → an array of integers 0–255. Options are 0.
    /// - Throws: ``PayloadConversionError`` naming the mismatch (and the element index for BINARY).
    public init(jsonPayload: JSONValue, format: PayloadFormat) throws(PayloadConversionError) {
        let data: [UInt8]
        switch format {
        case .json:
            data = jsonPayload.serialized()
        case .ascii:
            guard case .string(let text) = jsonPayload else {
                throw .wrongJSONKind(format: format, found: jsonPayload.kindDescription)
            }
            data = Array(text.utf8)
            if let offset = data.firstIndex(where: { $0 >= 0x80 }) {
                throw .nonASCII(byteOffset: offset, byte: data[offset])
            }
        case .utf8:
            // A Swift string is always valid UTF-8 (the JSON parser refuses anything else).
            guard case .string(let text) = jsonPayload else {
                throw .wrongJSONKind(format: format, found: jsonPayload.kindDescription)
            }
            data = Array(text.utf8)
        case .binary:
            guard case .array(let elements) = jsonPayload else {
                throw .wrongJSONKind(format: format, found: jsonPayload.kindDescription)
            }
            data = try Self.bytes(of: elements)
        }
        guard data.count <= Self.maximumDataLength else { throw .tooLong(length: data.count) }
        self.init(uncheckedFormat: format, options: 0, data: data)
    }

    /// The JSON form of the payload, for the HTTP API and webhooks: the inverse of
    /// ``PayloadBlock/init(jsonPayload:format:)``. Options are not represented.
    /// - Throws: ``PayloadConversionError`` when the data does not match the format
    ///   (non-ASCII for ASCII, invalid UTF-8, JSON that does not parse).
    public func jsonPayload() throws(PayloadConversionError) -> JSONValue {
        switch self.format {
        case .json:
            do {
                return try JSONValue(parsing: self.data)
            } catch {
                throw .invalidJSON(error)
            }
        case .ascii:
            if let offset = self.data.firstIndex(where: { $0 >= 0x80 }) {
                throw .nonASCII(byteOffset: offset, byte: self.data[offset])
            }
            return .string(String(decoding: self.data, as: UTF8.self))
        case .utf8:
            if let offset = UTF8Validation.firstInvalidOffset(in: self.data) {
                throw .invalidUTF8(byteOffset: offset)
            }
            return .string(String(decoding: self.data, as: UTF8.self))
        case .binary:
            return .array(self.data.map { .number(JSONNumber($0)) })
        }
    }

    private static func bytes(of elements: [JSONValue]) throws(PayloadConversionError) -> [UInt8] {
        guard elements.count <= Self.maximumDataLength else { throw .tooLong(length: elements.count) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(elements.count)
        for (index, element) in elements.enumerated() {
            guard case .number(let number) = element else {
                throw .byteNotANumber(index: index, found: element.kindDescription)
            }
            // Integer literals only: 1.0 and 1e0 are refused rather than guessed at.
            guard let value = number.intValue, let byte = UInt8(exactly: value) else {
                throw .invalidByte(index: index, literal: number.literal)
            }
            bytes.append(byte)
        }
        return bytes
    }
}
