import RedisBus

/// An element's session as the router records it (`<prefix>session:<uid hex>`): where it is
/// connected, since when, or until when it is kept.
struct SessionRecord: Sendable, Equatable {
    enum State: String, Sendable {
        case online
        /// Disconnected or asleep within the keep delay.
        case kept
    }

    var state: State
    var gateway: String?
    var connection: String?
    /// Unix ms of the login.
    var since: Int?
    /// The peer's `host:port`.
    var remoteAddress: String?
    /// Unix ms at which a kept session is dropped.
    var keptUntil: Int?

    /// The record in a `HGETALL` reply (a flat field/value array); nil when the hash does not
    /// exist or holds no known state.
    init?(hgetall reply: RedisValue) {
        guard let flat = reply.array, !flat.isEmpty else { return nil }
        var fields: [String: String] = [:]
        var index = 0
        while index + 1 < flat.count {
            if let name = flat[index].string, let value = flat[index + 1].string, !value.isEmpty {
                fields[name] = value
            }
            index += 2
        }
        guard let state = fields["state"].flatMap(State.init(rawValue:)) else { return nil }
        self.state = state
        self.gateway = fields["gw"]
        self.connection = fields["conn"]
        self.since = fields["since"].flatMap { Int($0) }
        self.remoteAddress = fields["addr"]
        self.keptUntil = fields["keptUntil"].flatMap { Int($0) }
    }
}
