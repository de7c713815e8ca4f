/// One consumer group as `XINFO GROUPS` describes it, for lag metrics.
public struct StreamGroupInfo: Sendable, Hashable {
    /// The group name.
    public var name: String
    /// How many consumers the group has.
    public var consumers: Int
    /// Entries delivered and not yet acknowledged.
    public var pending: Int
    /// The last ID delivered to any consumer of the group.
    public var lastDeliveredID: String
    /// Entries read by the group so far (Redis ≥ 7; `nil` when unknown).
    public var entriesRead: Int?
    /// Entries in the stream not yet delivered to the group (Redis ≥ 7; `nil` when Redis
    /// cannot tell, e.g. after deletions).
    public var lag: Int?

    /// Builds a description.
    public init(name: String, consumers: Int, pending: Int, lastDeliveredID: String, entriesRead: Int?, lag: Int?) {
        self.name = name
        self.consumers = consumers
        self.pending = pending
        self.lastDeliveredID = lastDeliveredID
        self.entriesRead = entriesRead
        self.lag = lag
    }

    /// Parses one element of `XINFO GROUPS` (a flat `name, value, …` array in RESP2).
    init?(reply: RedisValue) {
        guard let flat = reply.array else { return nil }
        var fields: [String: RedisValue] = [:]
        var index = 0
        while index + 1 < flat.count {
            if let key = flat[index].string { fields[key] = flat[index + 1] }
            index += 2
        }
        guard let name = fields["name"]?.string,
            let consumers = fields["consumers"]?.int,
            let pending = fields["pending"]?.int,
            let lastDeliveredID = fields["last-delivered-id"]?.string
        else { return nil }
        self.init(
            name: name,
            consumers: consumers,
            pending: pending,
            lastDeliveredID: lastDeliveredID,
            entriesRead: fields["entries-read"]?.int,
            lag: fields["lag"]?.int
        )
    }
}
