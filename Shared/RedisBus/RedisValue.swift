/// One reply from Redis, copied out of hiredis into plain Swift values.
///
/// Bulk strings keep their exact bytes (`[UInt8]`), so binary payloads survive untouched;
/// the accessors below convert on demand.
public enum RedisValue: Sendable, Hashable {
    /// A status reply such as `OK` or `PONG` (RESP simple string).
    case simpleString(String)
    /// An error reply such as `NOGROUP No such key…`, kept as a value (pipelines return these
    /// in place; ``RedisCommandExecutor/send(_:timeout:)`` throws ``RedisError/server(message:command:)``).
    case error(String)
    /// An integer reply.
    case integer(Int)
    /// A bulk string reply: arbitrary bytes.
    case bulkString([UInt8])
    /// The null bulk string or null array.
    case null
    /// An array reply (possibly nested).
    case array([RedisValue])

    /// The value as text: simple strings, bulk strings decoded as UTF-8, integers in decimal.
    /// `nil` for null, errors and arrays.
    public var string: String? {
        switch self {
        case .simpleString(let text): return text
        case .bulkString(let bytes): return String(decoding: bytes, as: UTF8.self)
        case .integer(let value): return String(value)
        case .error, .null, .array: return nil
        }
    }

    /// The value as an integer: integer replies, or bulk/simple strings holding a decimal number.
    public var int: Int? {
        switch self {
        case .integer(let value): return value
        case .bulkString(let bytes): return Int(String(decoding: bytes, as: UTF8.self))
        case .simpleString(let text): return Int(text)
        case .error, .null, .array: return nil
        }
    }

    /// The value as a floating-point number (sorted-set scores come back as bulk strings).
    public var double: Double? {
        switch self {
        case .integer(let value): return Double(value)
        case .bulkString(let bytes): return Self.parseDouble(String(decoding: bytes, as: UTF8.self))
        case .simpleString(let text): return Self.parseDouble(text)
        case .error, .null, .array: return nil
        }
    }

    /// The raw bytes of a bulk or simple string; `nil` otherwise.
    public var bytes: [UInt8]? {
        switch self {
        case .bulkString(let bytes): return bytes
        case .simpleString(let text): return Array(text.utf8)
        case .error, .integer, .null, .array: return nil
        }
    }

    /// The elements of an array reply; `nil` otherwise (including for null arrays).
    public var array: [RedisValue]? {
        if case .array(let elements) = self { return elements }
        return nil
    }

    /// Whether this is the null reply.
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The message of an error reply; `nil` otherwise.
    public var errorMessage: String? {
        if case .error(let message) = self { return message }
        return nil
    }

    private static func parseDouble(_ text: String) -> Double? {
        switch text {
        case "inf", "+inf": return .infinity
        case "-inf": return -.infinity
        default: return Double(text)
        }
    }
}

extension RedisValue: CustomStringConvertible {
    /// A short, human-readable rendering used in logs and error messages (long bulk strings
    /// are truncated).
    public var description: String {
        switch self {
        case .simpleString(let text): return "+\(text)"
        case .error(let message): return "-\(message)"
        case .integer(let value): return ":\(value)"
        case .null: return "(nil)"
        case .bulkString(let bytes):
            let shown = bytes.prefix(64)
            let text = String(decoding: shown, as: UTF8.self)
            return bytes.count > shown.count ? "\"\(text)…\" (\(bytes.count) bytes)" : "\"\(text)\""
        case .array(let elements):
            return "[" + elements.map(\.description).joined(separator: ", ") + "]"
        }
    }
}
