import IoTSocket

/// The names of every Redis key and stream, under the configured prefix (`iots:` by default),
/// so several concentrators can share one Redis and no service spells a key by hand.
///
/// Elements are named by `UID.hex` (the 16-byte wire form as hex) so any UTF-8 UID, the
/// central's empty one included, makes a safe key.
public struct KeySpace: Sendable, Equatable {
    public let prefix: String

    public init(prefix: String) {
        self.prefix = prefix
    }

    // MARK: Streams

    /// Frames and session events from gateways, HTTP calls from http-api: read by routers.
    public var routerStream: String { self.prefix + "router" }
    /// Accepted UDP telemetry: read by routers and remote-sync.
    public var telemetryStream: String { self.prefix + "telemetry" }
    /// Device lifecycle events (online, offline, kept, expired, replaced, auth refused).
    public var eventsStream: String { self.prefix + "events" }
    /// Request webhook jobs for the dispatchers (deadline-bound, never behind telemetry).
    public var webhookRequests: String { self.prefix + "webhooks:request" }
    /// Telemetry webhook jobs for the dispatchers (at least once).
    public var webhookTelemetry: String { self.prefix + "webhooks:telemetry" }
    /// Frames for the connections of one gateway instance.
    public func gatewayStream(_ instance: String) -> String { self.prefix + "gw:" + instance }
    /// Replies for the HTTP calls waiting in one http-api instance.
    public func apiStream(_ instance: String) -> String { self.prefix + "api:" + instance }
    /// The lease naming the router instance that consumes the router and telemetry streams.
    public var routerLeader: String { self.prefix + "router:leader" }

    // MARK: State

    /// Hash: UID hex → `ACLRecord` bytes (group name wire form + auth key).
    public var acl: String { self.prefix + "acl" }
    /// A counter the router increments with every ACL change: gateways watch it to drop the
    /// ACL records they cache.
    public var aclVersion: String { self.prefix + "acl-version" }
    /// Hash per element: `state` (online/kept), `gw`, `conn`, `since`, `addr`, `max`, `keptUntil`.
    public func session(_ uid: UID) -> String { self.prefix + "session:" + uid.hex }
    /// List per kept element: the frames held for it, oldest first.
    public func held(_ uid: UID) -> String { self.prefix + "held:" + uid.hex }
    /// Hash: UID hex → when the element was last connected (Unix ms of its last login or
    /// disconnect), so operators can tell `offline` from `never-seen`.
    public var lastSeen: String { self.prefix + "seen" }
    /// Sorted set: UID hex of kept elements → end of the keep delay (Unix ms).
    public var keptDeadlines: String { self.prefix + "kept" }
    /// Hash per request in flight (`down` toward an object, `up` toward the central).
    public func inFlight(_ member: String) -> String { self.prefix + "inflight:" + member }
    /// Counter per object: the tracking numbers the router picks for HTTP calls to it.
    public func trackingCounter(_ uid: UID) -> String { self.prefix + "tracking:" + uid.hex }
    /// Sorted set: in-flight member → deadline (Unix ms).
    public var requestDeadlines: String { self.prefix + "deadlines" }
    /// String: telemetry token hex → UID hex, expiring with the token.
    public func telemetryToken(_ tokenHex: String) -> String { self.prefix + "token:" + tokenHex }
    /// String: UID hex → its current telemetry token hex.
    public func deviceToken(_ uid: UID) -> String { self.prefix + "devtoken:" + uid.hex }
    /// Sorted set: UID hex → when its token must be renewed (Unix ms).
    public var tokenRenewals: String { self.prefix + "token-renewals" }
    /// Sorted set: gateway instance → last heartbeat (Unix ms).
    public var gateways: String { self.prefix + "gateways" }
    /// Set per gateway instance: UID hex of the elements whose session it holds.
    public func gatewaySessions(_ instance: String) -> String { self.prefix + "gw-sessions:" + instance }
}
