import IoTSocket
import RedisBus

/// A device lifecycle event on `iots:events`, for integrators and remote-sync.
///
/// Fields: `t` (kind), `uid` (the UID as text; empty for the central), `central` (1 for the
/// central), `gw`, `at` (Unix milliseconds), `detail`.
public struct LifecycleEvent: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case online, offline, kept, expired, replaced
        case authRefused = "auth-refused"
    }

    public var kind: Kind
    public var uid: UID?
    public var gateway: String
    public var atMilliseconds: Int
    public var detail: String

    public init(kind: Kind, uid: UID?, gateway: String, atMilliseconds: Int, detail: String = "") {
        self.kind = kind
        self.uid = uid
        self.gateway = gateway
        self.atMilliseconds = atMilliseconds
        self.detail = detail
    }

    public var fields: [(name: String, value: RedisArgument)] {
        var fields: [(name: String, value: RedisArgument)] = [
            ("t", .string(self.kind.rawValue)), ("uid", .string(self.uid?.string ?? "")),
        ]
        if self.uid?.isCentral == true {
            fields.append(("central", "1"))
        }
        fields += [("gw", .string(self.gateway)), ("at", .integer(self.atMilliseconds))]
        if !self.detail.isEmpty {
            fields.append(("detail", .string(self.detail)))
        }
        return fields
    }
}
