import IoTSocket

/// Why the central's answer to a request webhook is not valid (the object then gets 0x01).
enum CentralAnswerError: Error, CustomStringConvertible, Equatable {
    /// The body is not JSON.
    case notJSON(String)
    /// A field is missing or of the wrong kind.
    case badField(String, problem: String)
    /// `Payload` does not match `Format`.
    case payload(String)

    var description: String {
        switch self {
        case .notJSON(let detail): "answer is not JSON: \(detail)"
        case .badField(let field, let problem): "answer field \"\(field)\" \(problem)"
        case .payload(let detail): "answer payload does not match its format: \(detail)"
        }
    }
}
