/// Why a payload cannot go between its JSON form (HTTP API, webhooks) and its wire form.
///
/// The description names the problem the way an HTTP 400 message should, e.g.
/// `Payload[3] is 256, expected an integer 0–255`.
public enum PayloadConversionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The JSON value is of the wrong kind for the format (`found` is e.g. "a number").
    case wrongJSONKind(format: PayloadFormat, found: String)
    /// A BINARY payload element is not an integer 0–255; `literal` is what was found.
    case invalidByte(index: Int, literal: String)
    /// A BINARY payload element is not a number at all.
    case byteNotANumber(index: Int, found: String)
    /// ASCII text with a byte at or above 0x80, at this UTF-8 byte offset.
    case nonASCII(byteOffset: Int, byte: UInt8)
    /// UTF8 (or JSON) data that is not well-formed UTF-8, at this byte offset.
    case invalidUTF8(byteOffset: Int)
    /// JSON data that does not parse.
    case invalidJSON(JSONParseError)
    /// More data than a payload block can carry.
    case tooLong(length: Int)

    public var description: String {
        switch self {
        case .wrongJSONKind(let format, let found):
            let expected = format == .binary ? "an array of integers 0–255" : "a string"
            return "Payload is \(found), expected \(expected) for Format \(format.name)"
        case .invalidByte(let index, let literal):
            return "Payload[\(index)] is \(literal), expected an integer 0–255"
        case .byteNotANumber(let index, let found):
            return "Payload[\(index)] is \(found), expected an integer 0–255"
        case .nonASCII(let byteOffset, let byte):
            return "Payload has byte 0x\(Hex.encode([byte])) at offset \(byteOffset), which is not ASCII"
        case .invalidUTF8(let byteOffset):
            return "Payload is not valid UTF-8 at byte \(byteOffset)"
        case .invalidJSON(let error):
            return "Payload is not valid JSON: \(error)"
        case .tooLong(let length):
            return "Payload is \(length) bytes, at most \(PayloadBlock.maximumDataLength) are allowed"
        }
    }
}
