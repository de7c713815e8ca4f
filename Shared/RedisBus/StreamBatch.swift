/// The entries one `XREAD`/`XREADGROUP` returned for one stream.
public struct StreamBatch: Sendable, Hashable {
    /// The stream the entries come from.
    public var stream: String
    /// The entries, oldest first.
    public var entries: [StreamEntry]

    /// Builds a batch.
    public init(stream: String, entries: [StreamEntry]) {
        self.stream = stream
        self.entries = entries
    }

    /// Parses an `XREAD`/`XREADGROUP` reply: null on timeout, else `[[stream, entries], …]`.
    static func list(from reply: RedisValue, command: String) throws -> [StreamBatch] {
        if reply.isNull { return [] }
        guard let streams = reply.array else {
            throw RedisError.unexpectedReply(command: command, reply: reply.description)
        }
        return try streams.map { item in
            guard let pair = item.array, pair.count == 2, let name = pair[0].string else {
                throw RedisError.unexpectedReply(command: command, reply: item.description)
            }
            return StreamBatch(stream: name, entries: try StreamEntry.list(from: pair[1], command: command))
        }
    }
}
