/// Something that runs Redis commands: a ``RedisConnection`` or a ``RedisClient``.
///
/// The typed command families (streams, hashes, keys, sorted sets, scripts) are extensions on
/// this protocol, so they work on the shared client and on a dedicated blocking connection alike.
public protocol RedisCommandExecutor: Sendable {
    /// Sends one command and returns its reply.
    ///
    /// - Parameters:
    ///   - command: The command name followed by its arguments.
    ///   - timeout: How long to wait for the reply; `nil` uses the configured command timeout.
    ///     Blocking commands pass their block time plus a margin.
    /// - Throws: ``RedisError/server(message:command:)`` when Redis answers with an error,
    ///   or a connection-level ``RedisError``.
    @discardableResult
    func send(_ command: [RedisArgument], timeout: Duration?) async throws -> RedisValue

    /// Sends several commands in one write and returns their replies in order.
    ///
    /// The batch costs one promise and one flush, however many commands it holds. Error
    /// replies come back in place as ``RedisValue/error(_:)``; only connection failures throw.
    func pipeline(_ commands: [[RedisArgument]]) async throws -> [RedisValue]
}

extension RedisCommandExecutor {
    /// Sends one command with the configured command timeout.
    ///
    /// - Throws: ``RedisError/server(message:command:)`` when Redis answers with an error.
    @discardableResult
    public func send(_ command: [RedisArgument]) async throws -> RedisValue {
        try await self.send(command, timeout: nil)
    }

    /// Sends one command given as separate arguments: `send("SET", "key", "value")`.
    @discardableResult
    public func send(_ name: RedisArgument, _ arguments: RedisArgument...) async throws -> RedisValue {
        try await self.send([name] + arguments, timeout: nil)
    }
}

extension RedisValue {
    /// Turns an error reply into a thrown ``RedisError/server(message:command:)``.
    func throwingServerError(command: [RedisArgument]) throws -> RedisValue {
        if case .error(let message) = self {
            throw RedisError.server(message: message, command: command.first?.text ?? "")
        }
        return self
    }
}
