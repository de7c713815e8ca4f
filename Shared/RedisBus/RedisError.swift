/// Everything that can go wrong talking to Redis, each case carrying enough context to act on
/// (which server, which command, what the server said).
public enum RedisError: Error, Sendable, Hashable {
    /// The server answered a command with an error reply.
    case server(message: String, command: String)
    /// The connection to `address` closed (or was closed) before the reply arrived.
    case connectionClosed(address: String)
    /// No connection to `address` could be established.
    case connectionRefused(address: String, reason: String)
    /// The bytes from `address` are not valid RESP; the connection has been closed.
    case protocolError(address: String, reason: String)
    /// A Redis URL could not be parsed; `reason` names the part that is wrong.
    case invalidURL(url: String, reason: String)
    /// No reply to `command` from `address` within `timeout`; the connection has been closed
    /// because later replies could no longer be matched to their commands.
    case timeout(address: String, command: String, timeout: Duration)
    /// A reply did not have the shape the command implies (for example a typed helper got an
    /// integer where it expected an array).
    case unexpectedReply(command: String, reply: String)
    /// The client or connection was closed by its owner; no further commands are accepted.
    case closed

    /// The first word of a server error reply (`NOGROUP`, `BUSYGROUP`, `NOSCRIPT`, `ERR`…).
    public var serverErrorCode: String? {
        guard case .server(let message, _) = self else { return nil }
        return message.split(separator: " ", maxSplits: 1).first.map(String.init)
    }

    /// The consumer group (or its stream) does not exist: recreate it.
    public var isNoGroup: Bool { self.serverErrorCode == "NOGROUP" }

    /// The script is not in the server's script cache: load it and retry.
    public var isNoScript: Bool { self.serverErrorCode == "NOSCRIPT" }

    /// The consumer group already exists (harmless when creating it at start).
    public var isBusyGroup: Bool { self.serverErrorCode == "BUSYGROUP" }

    /// Whether the failure is about the connection rather than the command, so retrying on a
    /// new connection may succeed.
    public var isConnectionFailure: Bool {
        switch self {
        case .connectionClosed, .connectionRefused, .protocolError, .timeout: return true
        case .server, .invalidURL, .unexpectedReply, .closed: return false
        }
    }
}

extension RedisError: CustomStringConvertible {
    /// A one-line explanation naming the server, command or URL part involved.
    public var description: String {
        switch self {
        case .server(let message, let command):
            return "Redis error reply to \(command): \(message)"
        case .connectionClosed(let address):
            return "connection to Redis at \(address) closed before the reply arrived"
        case .connectionRefused(let address, let reason):
            return "cannot connect to Redis at \(address): \(reason)"
        case .protocolError(let address, let reason):
            return "invalid RESP from Redis at \(address): \(reason)"
        case .invalidURL(let url, let reason):
            return "invalid Redis URL '\(url)': \(reason)"
        case .timeout(let address, let command, let timeout):
            return "no reply to \(command) from Redis at \(address) within \(timeout)"
        case .unexpectedReply(let command, let reply):
            return "unexpected reply to \(command): \(reply)"
        case .closed:
            return "the Redis client was closed"
        }
    }
}
