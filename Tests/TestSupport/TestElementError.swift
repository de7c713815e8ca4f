import IoTSocket

/// Why a ``TestElement`` could not log in or receive.
public enum TestElementError: Error, Sendable, CustomStringConvertible {
    /// The concentrator answered the initiation with OK = 0 or with a rule (e.g. a redirect).
    case initiationRefused(InitiationResponse)
    /// The concentrator answered the challenge with validation 0x00.
    case validationRefused
    /// Nothing (complete) arrived within the time allowed; `waitingFor` says what was expected.
    case timeout(waitingFor: String)
    /// The concentrator closed the connection before what was expected arrived;
    /// `leftoverBytes` is what was received of an incomplete frame.
    case closedByServer(leftoverBytes: Int)
    /// The concentrator sent bytes that are not what the protocol expects at this point.
    case malformed(IoTSocketError)

    public var description: String {
        switch self {
        case .initiationRefused(let response): "initiation refused: \(response)"
        case .validationRefused: "validation refused (0x00)"
        case .timeout(let what): "timed out waiting for \(what)"
        case .closedByServer(let leftover): "connection closed by the server (\(leftover) bytes of an incomplete frame left)"
        case .malformed(let error): "malformed bytes from the server: \(error)"
        }
    }
}
