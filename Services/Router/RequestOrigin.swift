import IoTSocket

/// Who is waiting for the answer to a request in flight.
enum RequestOrigin: Sendable, Equatable {
    /// The central, over its TCP session (answers carry the object's UID).
    case central
    /// An object, over its TCP session (answers carry no UID).
    case object
    /// An HTTP call waiting in an http-api instance: its reply stream and correlation id.
    case api(replyStream: String, correlation: String)

    var field: String {
        switch self {
        case .central: "central"
        case .object: "object"
        case .api: "api"
        }
    }

    init?(field: String, replyStream: String, correlation: String) {
        switch field {
        case "central": self = .central
        case "object": self = .object
        case "api": self = .api(replyStream: replyStream, correlation: correlation)
        default: return nil
        }
    }
}
