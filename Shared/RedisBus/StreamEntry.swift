/// One entry of a Redis stream: its ID and its field/value pairs in the order they were added.
public struct StreamEntry: Sendable, Hashable {
    /// One field of an entry. Values are raw bytes (binary safe).
    public struct Field: Sendable, Hashable {
        /// The field name.
        public var name: String
        /// The field value, exactly as stored.
        public var value: [UInt8]

        /// Builds a field.
        public init(name: String, value: [UInt8]) {
            self.name = name
            self.value = value
        }
    }

    /// The entry ID (`<ms>-<seq>`).
    public var id: String
    /// The fields in stored order. Empty for an entry deleted while still pending.
    public var fields: [Field]

    /// Builds an entry.
    public init(id: String, fields: [Field]) {
        self.id = id
        self.fields = fields
    }

    /// The value of the first field called `name`.
    public subscript(name: String) -> [UInt8]? {
        self.fields.first { $0.name == name }?.value
    }

    /// The value of the first field called `name`, decoded as UTF-8.
    public func string(_ name: String) -> String? {
        self[name].map { String(decoding: $0, as: UTF8.self) }
    }

    /// Parses `[id, [field, value, …]]` (the fields may be null for a deleted pending entry).
    init?(reply: RedisValue) {
        guard case .array(let parts) = reply, parts.count == 2, let id = parts[0].string else { return nil }
        var fields: [Field] = []
        if case .array(let flat) = parts[1] {
            fields.reserveCapacity(flat.count / 2)
            var index = 0
            while index + 1 < flat.count {
                guard let name = flat[index].string, let value = flat[index + 1].bytes else { return nil }
                fields.append(Field(name: name, value: value))
                index += 2
            }
        }
        self.init(id: id, fields: fields)
    }

    /// Parses an array of entries (`XRANGE`, or the per-stream part of `XREAD`).
    static func list(from reply: RedisValue, command: String) throws -> [StreamEntry] {
        if reply.isNull { return [] }
        guard let items = reply.array else {
            throw RedisError.unexpectedReply(command: command, reply: reply.description)
        }
        var entries: [StreamEntry] = []
        entries.reserveCapacity(items.count)
        for item in items {
            guard let entry = StreamEntry(reply: item) else {
                throw RedisError.unexpectedReply(command: command, reply: item.description)
            }
            entries.append(entry)
        }
        return entries
    }
}
