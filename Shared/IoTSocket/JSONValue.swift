/// A JSON value (RFC 8259), read by the strict parser (`JSONValue(parsing:)`) or built in code.
///
/// Objects keep their members in document order; numbers keep their literal text. Parse with
/// the strict parser, serialize compactly with ``JSONValue/serialized()``. Used for the bodies of
/// the HTTP API and webhooks, and for JSON payloads.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(JSONNumber)
    case string(String)
    case array([JSONValue])
    /// Members in document order. Keys are unique in parsed values (duplicates are refused).
    case object([(key: String, value: JSONValue)])

    /// The default limit on nested arrays and objects, deep enough for any real body and shallow
    /// enough that hostile input cannot exhaust the stack of the recursive parser.
    public static let defaultMaximumDepth = 128

    /// An object from members in the given order.
    public init(object members: [(String, JSONValue)]) {
        self = .object(members.map { (key: $0.0, value: $0.1) })
    }

    /// A number from an integer.
    public init(_ value: some BinaryInteger) {
        self = .number(JSONNumber(value))
    }

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null):
            return true
        case (.bool(let left), .bool(let right)):
            return left == right
        case (.number(let left), .number(let right)):
            return left == right
        case (.string(let left), .string(let right)):
            return left == right
        case (.array(let left), .array(let right)):
            return left == right
        case (.object(let left), .object(let right)):
            return left.count == right.count
                && zip(left, right).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default:
            return false
        }
    }
}
