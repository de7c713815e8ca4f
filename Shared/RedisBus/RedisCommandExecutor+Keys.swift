/// String keys, expiry and key-space commands.
extension RedisCommandExecutor {
    /// Sets a key (`SET [EX|PX n] [NX|XX]`).
    ///
    /// - Returns: `true` if the value was written, `false` if the condition prevented it.
    @discardableResult
    public func set(_ key: String, to value: RedisArgument, expiry: RedisExpiry? = nil, condition: RedisSetCondition = .always) async throws -> Bool {
        var command: [RedisArgument] = ["SET", .string(key), value]
        if let expiry { command += expiry.arguments }
        switch condition {
        case .always: break
        case .ifNotExists: command.append("NX")
        case .ifExists: command.append("XX")
        }
        return !(try await self.send(command).isNull)
    }

    /// The value of a key (`GET`), or `nil` when it does not exist.
    public func get(_ key: String) async throws -> [UInt8]? {
        try await self.send(["GET", .string(key)]).bytes
    }

    /// The value of a key decoded as UTF-8 (`GET`).
    public func getString(_ key: String) async throws -> String? {
        try await self.get(key).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Deletes keys (`DEL`); returns how many existed.
    @discardableResult
    public func del(_ keys: [String]) async throws -> Int {
        guard !keys.isEmpty else { return 0 }
        return try await self.send(["DEL"] + keys.map { .string($0) }).int ?? 0
    }

    /// Deletes one key (`DEL`); returns whether it existed.
    @discardableResult
    public func del(_ key: String) async throws -> Bool {
        try await self.del([key]) == 1
    }

    /// How many of `keys` exist (`EXISTS`; a key named twice counts twice).
    public func exists(_ keys: [String]) async throws -> Int {
        guard !keys.isEmpty else { return 0 }
        return try await self.send(["EXISTS"] + keys.map { .string($0) }).int ?? 0
    }

    /// Whether a key exists (`EXISTS`).
    public func exists(_ key: String) async throws -> Bool {
        try await self.exists([key]) == 1
    }

    /// Sets a time to live in seconds (`EXPIRE`); `false` when the key does not exist.
    @discardableResult
    public func expire(_ key: String, seconds: Int) async throws -> Bool {
        try await self.send(["EXPIRE", .string(key), .integer(seconds)]).int == 1
    }

    /// Sets a time to live in milliseconds (`PEXPIRE`); `false` when the key does not exist.
    @discardableResult
    public func pexpire(_ key: String, milliseconds: Int) async throws -> Bool {
        try await self.send(["PEXPIRE", .string(key), .integer(milliseconds)]).int == 1
    }

    /// The remaining time to live in milliseconds (`PTTL`): -1 without expiry, -2 when missing.
    public func pttl(_ key: String) async throws -> Int {
        let reply = try await self.send(["PTTL", .string(key)])
        guard let milliseconds = reply.int else { throw RedisError.unexpectedReply(command: "PTTL", reply: reply.description) }
        return milliseconds
    }

    /// Adds `increment` to an integer key (`INCRBY`) and returns the new value.
    @discardableResult
    public func incrby(_ key: String, by increment: Int = 1) async throws -> Int {
        let reply = try await self.send(["INCRBY", .string(key), .integer(increment)])
        guard let value = reply.int else { throw RedisError.unexpectedReply(command: "INCRBY", reply: reply.description) }
        return value
    }
}
