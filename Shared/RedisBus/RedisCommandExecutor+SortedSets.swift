/// Sorted-set commands (deadlines, retry schedules).
extension RedisCommandExecutor {
    /// Adds members or updates their scores (`ZADD`); returns how many were new.
    @discardableResult
    public func zadd(_ key: String, members: [(score: Double, member: RedisArgument)]) async throws -> Int {
        guard !members.isEmpty else { return 0 }
        var command: [RedisArgument] = ["ZADD", .string(key)]
        command.reserveCapacity(2 + 2 * members.count)
        for entry in members {
            command.append(.double(entry.score))
            command.append(entry.member)
        }
        return try await self.send(command).int ?? 0
    }

    /// Members with scores in `min...max`, lowest score first (`ZRANGEBYSCORE … LIMIT`).
    ///
    /// - Parameter limit: Skip `offset` members and return at most `count`; `nil` returns all.
    public func zrangebyscore(
        _ key: String,
        min: RedisScoreBound,
        max: RedisScoreBound,
        limit: (offset: Int, count: Int)? = nil
    ) async throws -> [[UInt8]] {
        var command: [RedisArgument] = ["ZRANGEBYSCORE", .string(key), min.argument, max.argument]
        if let limit { command += ["LIMIT", .integer(limit.offset), .integer(limit.count)] }
        let reply = try await self.send(command)
        guard let members = reply.array else { throw RedisError.unexpectedReply(command: "ZRANGEBYSCORE", reply: reply.description) }
        return members.compactMap(\.bytes)
    }

    /// Members with their scores in `min...max`, lowest first (`ZRANGEBYSCORE … WITHSCORES`).
    public func zrangebyscoreWithScores(
        _ key: String,
        min: RedisScoreBound,
        max: RedisScoreBound,
        limit: (offset: Int, count: Int)? = nil
    ) async throws -> [(member: [UInt8], score: Double)] {
        var command: [RedisArgument] = ["ZRANGEBYSCORE", .string(key), min.argument, max.argument, "WITHSCORES"]
        if let limit { command += ["LIMIT", .integer(limit.offset), .integer(limit.count)] }
        let reply = try await self.send(command)
        guard let flat = reply.array, flat.count % 2 == 0 else {
            throw RedisError.unexpectedReply(command: "ZRANGEBYSCORE", reply: reply.description)
        }
        var result: [(member: [UInt8], score: Double)] = []
        result.reserveCapacity(flat.count / 2)
        var index = 0
        while index + 1 < flat.count {
            guard let member = flat[index].bytes, let score = flat[index + 1].double else {
                throw RedisError.unexpectedReply(command: "ZRANGEBYSCORE", reply: reply.description)
            }
            result.append((member, score))
            index += 2
        }
        return result
    }

    /// Removes members (`ZREM`); returns how many existed. Several instances racing to remove
    /// the same member learn who won from this count.
    @discardableResult
    public func zrem(_ key: String, members: [RedisArgument]) async throws -> Int {
        guard !members.isEmpty else { return 0 }
        return try await self.send(["ZREM", .string(key)] + members).int ?? 0
    }

    /// The score of a member (`ZSCORE`), or `nil` when absent.
    public func zscore(_ key: String, member: RedisArgument) async throws -> Double? {
        try await self.send(["ZSCORE", .string(key), member]).double
    }

    /// The number of members (`ZCARD`).
    public func zcard(_ key: String) async throws -> Int {
        try await self.send(["ZCARD", .string(key)]).int ?? 0
    }
}
