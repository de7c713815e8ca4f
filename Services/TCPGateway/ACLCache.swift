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

    static let lifetime = TimeAmount.seconds(60)
    static let capacity = 200_000

    private let records = Mutex<[UID: Record]>([:])

    /// The live record of `uid`, if one is cached.
    func record(for uid: UID, now: NIODeadline = .now()) -> Record? {
        self.records.withLock { records in
            guard let record = records[uid] else { return nil }
            guard record.expires > now else {
                records[uid] = nil
                return nil
            }
            return record
        }
    }

    /// Caches what Redis holds for `uid`.
    func store(_ uid: UID, key: AuthKey, now: NIODeadline = .now()) {
        self.records.withLock { records in
            if records.count >= Self.capacity, records[uid] == nil {
                records.removeAll(keepingCapacity: true)
            }
            records[uid] = Record(key: key, expires: now + Self.lifetime)
        }
    }

    /// Forgets `uid`'s record: its next login reads the ACL in Redis.
    func evict(_ uid: UID) {
        _ = self.records.withLock { $0.removeValue(forKey: uid) }
    }

    /// Forgets every record (the ACL changed, or its version cannot be read).
    func removeAll() {
        self.records.withLock { $0.removeAll() }
    }
}
