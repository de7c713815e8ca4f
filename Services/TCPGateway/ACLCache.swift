import IoTSocket
import NIOCore
import Synchronization

/// The ACL records this gateway read from Redis recently, so that a device logging in again
/// (reconnects after a link loss, a fleet back after a cellular outage) is checked without a
/// Redis round trip (ARCHITECTURE: "HMAC check against the ACL in Redis with a local cache").
///
/// A cached key is only ever trusted for an answer that matches it; anything else is checked
/// against Redis again. The ``ACLVersionWatcher`` empties the cache within a second of any ACL
/// change made through the router. A record can still be stale in that second, or after an edit
/// made in Redis directly, so the gateway sends the fingerprint of the key it used with the
/// session-opened event, and the router's `openSession` script refuses the session (Close 0x01)
/// when the ACL holds no entry or another key by then; a close ordered by the router evicts the
/// element's record (``evict(_:)``), so its next login reads Redis. Entries live ``lifetime``
/// at most; the cache holds at most ``capacity`` of them and starts over when full.
final class ACLCache: Sendable {
    struct Record: Sendable {
        let key: AuthKey
        let expires: NIODeadline
    }

    private struct State {
        var records: [UID: Record] = [:]
        /// Counts flushes and evictions, so that a record read from Redis before one of them
        /// is not cached after it (``store(_:key:readAt:now:)``).
        var generation = 0
    }

    static let lifetime = TimeAmount.seconds(60)
    static let capacity = 200_000

    private let state = Mutex(State())

    /// The live record of `uid`, if one is cached.
    func record(for uid: UID, now: NIODeadline = .now()) -> Record? {
        self.state.withLock { state in
            guard let record = state.records[uid] else { return nil }
            guard record.expires > now else {
                state.records[uid] = nil
                return nil
            }
            return record
        }
    }

    /// Take before reading a record from Redis, and pass to ``store(_:key:readAt:now:)``.
    var generation: Int { self.state.withLock { $0.generation } }

    /// Caches what Redis held for `uid` when read at `generation`; a read overtaken by an
    /// eviction or a flush (the ACL may have changed meanwhile) is not cached.
    func store(_ uid: UID, key: AuthKey, readAt generation: Int, now: NIODeadline = .now()) {
        self.state.withLock { state in
            guard state.generation == generation else { return }
            if state.records.count >= Self.capacity, state.records[uid] == nil {
                state.records.removeAll(keepingCapacity: true)
            }
            state.records[uid] = Record(key: key, expires: now + Self.lifetime)
        }
    }

    /// Forgets `uid`'s record: its next login reads the ACL in Redis.
    func evict(_ uid: UID) {
        self.state.withLock { state in
            if state.records.removeValue(forKey: uid) != nil {
                state.generation &+= 1
            }
        }
    }

    /// Forgets every record (the ACL changed, or its version cannot be read).
    func removeAll() {
        self.state.withLock { state in
            state.records.removeAll()
            state.generation &+= 1
        }
    }
}
