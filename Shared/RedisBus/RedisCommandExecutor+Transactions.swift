/// `MULTI`/`EXEC` transactions.
extension RedisCommandExecutor {
    /// Runs commands atomically: `MULTI`, the commands, `EXEC`, written as one batch so no other
    /// caller's command can land between them on a shared connection.
    ///
    /// - Returns: The reply of each command, in order; a command that failed at run time
    ///   yields ``RedisValue/error(_:)`` in place (Redis does not roll back).
    /// - Throws: ``RedisError/server(message:command:)`` when Redis refused the transaction
    ///   (`EXECABORT`, e.g. a command with a syntax error).
    public func transaction(_ commands: [[RedisArgument]]) async throws -> [RedisValue] {
        guard !commands.isEmpty else { return [] }
        let replies = try await self.pipeline([["MULTI"]] + commands + [["EXEC"]])
        let exec = replies[replies.count - 1]
        if case .error(let message) = exec {
            throw RedisError.server(message: message, command: "EXEC")
        }
        guard let results = exec.array else {
            throw RedisError.unexpectedReply(command: "EXEC", reply: exec.description)
        }
        return results
    }
}
