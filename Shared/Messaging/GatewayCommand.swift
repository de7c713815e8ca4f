import IoTSocket
import RedisBus

/// What a gateway instance reads from its own stream `iots:gw:<id>`: transmissions to write to
/// one of its connections, or an order to close one.
///
/// Fields: `c` (connection id), then `f` (wire bytes to write) or `x` (close code to send
/// before closing).
public enum GatewayCommand: Sendable, Equatable {
    case write(connection: String, frame: [UInt8])
    case close(connection: String, code: CloseCode)

    public var connection: String {
        switch self {
        case .write(let connection, _), .close(let connection, _): connection
        }
    }

    public var fields: [(name: String, value: RedisArgument)] {
        switch self {
        case .write(let connection, let frame): [("c", .string(connection)), ("f", .bytes(frame))]
        case .close(let connection, let code): [("c", .string(connection)), ("x", .integer(Int(code.rawValue)))]
        }
    }

    /// - Throws: `MessageError` naming the entry and field.
    public init(entry: StreamEntry) throws(MessageError) {
        guard let connection = entry.string("c") else { throw MessageError(entry: entry.id, field: "c", problem: "missing") }
        if let frame = entry["f"] {
            self = .write(connection: connection, frame: frame)
        } else if let text = entry.string("x"), let raw = UInt8(text) {
            self = .close(connection: connection, code: CloseCode(raw))
        } else {
            throw MessageError(entry: entry.id, field: "f/x", problem: "missing")
        }
    }
}
