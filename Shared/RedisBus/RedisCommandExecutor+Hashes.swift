/// Hash commands.
extension RedisCommandExecutor {
    /// Sets fields of a hash (`HSET`); returns how many fields were new.
    @discardableResult
    public func hset(_ key: String, fields: [(name: String, value: RedisArgument)]) async throws -> Int {
        guard !fields.isEmpty else { return 0 }
        var command: [RedisArgument] = ["HSET", .string(key)]
        command.reserveCapacity(2 + 2 * fields.count)
        for field in fields {
            command.append(.string(field.name))
            command.append(field.value)
        }
        return try await self.send(command).int ?? 0
    }

    /// The value of one field (`HGET`), or `nil` when the field or hash does not exist.
    public func hget(_ key: String, field: String) async throws -> [UInt8]? {
        try await self.send(["HGET", .string(key), .string(field)]).bytes
    }

    /// The value of one field decoded as UTF-8 (`HGET`).
    public func hgetString(_ key: String, field: String) async throws -> String? {
        try await self.hget(key, field: field).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Every field of a hash (`HGETALL`); empty when the hash does not exist.
    public func hgetall(_ key: String) async throws -> [String: [UInt8]] {
        let reply = try await self.send(["HGETALL", .string(key)])
        guard let flat = reply.array else { throw RedisError.unexpectedReply(command: "HGETALL", reply: reply.description) }
        var fields: [String: [UInt8]] = [:]
        fields.reserveCapacity(flat.count / 2)
        var index = 0
        while index + 1 < flat.count {
            if let name = flat[index].string, let value = flat[index + 1].bytes {
                fields[name] = value
            }
            index += 2
        }
        return fields
    }

    /// Removes fields of a hash (`HDEL`); returns how many existed.
    @discardableResult
    public func hdel(_ key: String, fields: [String]) async throws -> Int {
        guard !fields.isEmpty else { return 0 }
        return try await self.send(["HDEL", .string(key)] + fields.map { .string($0) }).int ?? 0
    }

    /// Adds `increment` to an integer field (`HINCRBY`) and returns the new value.
    @discardableResult
    public func hincrby(_ key: String, field: String, by increment: Int) async throws -> Int {
        let reply = try await self.send(["HINCRBY", .string(key), .string(field), .integer(increment)])
        guard let value = reply.int else { throw RedisError.unexpectedReply(command: "HINCRBY", reply: reply.description) }
        return value
    }
}
