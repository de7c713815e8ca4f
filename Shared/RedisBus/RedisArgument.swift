import NIOCore

/// One argument of a Redis command: a name, a key, a value.
///
/// String and integer literals convert implicitly, so commands read naturally:
/// `["XLEN", "iots:router"]`, `["EXPIRE", .string(key), 30]`. Bytes are sent exactly as given.
public enum RedisArgument: Sendable, Hashable {
    /// UTF-8 text.
    case string(String)
    /// Raw bytes (binary safe).
    case bytes([UInt8])
    /// The readable bytes of a buffer (binary safe).
    case buffer(ByteBuffer)
    /// An integer, sent in decimal.
    case integer(Int)
    /// A floating-point number, sent in the form Redis parses (`inf`, `-inf`, `1.5`, `1e+20`).
    case double(Double)

    /// The argument as text, for error messages (bytes decoded lossily).
    var text: String {
        switch self {
        case .string(let text): return text
        case .bytes(let bytes): return String(decoding: bytes, as: UTF8.self)
        case .buffer(let buffer): return String(buffer: buffer)
        case .integer(let value): return String(value)
        case .double(let value): return Self.format(value)
        }
    }

    /// Redis parses scores with `strtod`, which accepts Swift's rendering except for `nan`.
    static func format(_ value: Double) -> String {
        if value == .infinity { return "+inf" }
        if value == -.infinity { return "-inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int(value)) }
        return String(value)
    }
}

extension RedisArgument: ExpressibleByStringLiteral {
    /// A string literal becomes ``string(_:)``.
    public init(stringLiteral value: String) {
        self = .string(value)
    }
}

extension RedisArgument: ExpressibleByStringInterpolation {}

extension RedisArgument: ExpressibleByIntegerLiteral {
    /// An integer literal becomes ``integer(_:)``.
    public init(integerLiteral value: Int) {
        self = .integer(value)
    }
}

extension RedisArgument: ExpressibleByFloatLiteral {
    /// A floating-point literal becomes ``double(_:)``.
    public init(floatLiteral value: Double) {
        self = .double(value)
    }
}

extension RedisArgument: CustomStringConvertible {
    /// The argument as text (bytes decoded lossily), for logs.
    public var description: String { self.text }
}
