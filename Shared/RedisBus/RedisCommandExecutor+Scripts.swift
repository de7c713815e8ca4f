/// Lua scripts: the atomic multi-key steps of the services.
extension RedisCommandExecutor {
    /// Runs a script by its digest (`EVALSHA`); on `NOSCRIPT` loads it (`SCRIPT LOAD`) and
    /// retries once.
    ///
    /// - Parameters:
    ///   - script: The script.
    ///   - keys: The keys it touches (`KEYS[1]…`), declared so Redis can check them.
    ///   - arguments: Its other arguments (`ARGV[1]…`).
    /// - Returns: The script's reply.
    /// - Throws: ``RedisError/server(message:command:)`` when the script fails.
    @discardableResult
    public func evalsha(_ script: RedisScript, keys: [String] = [], arguments: [RedisArgument] = []) async throws -> RedisValue {
        var command: [RedisArgument] = ["EVALSHA", .string(script.sha1), .integer(keys.count)]
        command.reserveCapacity(3 + keys.count + arguments.count)
        command += keys.map { .string($0) }
        command += arguments
        do {
            return try await self.send(command)
        } catch let error as RedisError where error.isNoScript {
            try await self.loadScript(script)
            return try await self.send(command)
        }
    }

    /// Loads a script into the server's cache (`SCRIPT LOAD`) and returns the digest Redis
    /// computed (equal to ``RedisScript/sha1``).
    @discardableResult
    public func loadScript(_ script: RedisScript) async throws -> String {
        let reply = try await self.send(["SCRIPT", "LOAD", .string(script.source)])
        guard let digest = reply.string else { throw RedisError.unexpectedReply(command: "SCRIPT LOAD", reply: reply.description) }
        return digest
    }
}
