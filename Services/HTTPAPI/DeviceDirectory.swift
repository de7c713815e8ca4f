import IoTSocket
import Messaging
import RedisBus

/// Reads what the router keeps about elements (ACL, sessions, telemetry tokens) for the REST
/// endpoints. Read-only: every change goes through the router.
struct DeviceDirectory: Sendable {
    let redis: RedisClient
    let keys: KeySpace

    /// How many elements one pipelined read covers, so a large ACL is read in bounded steps.
    private static let pipelineChunk = 500

    /// The ACL entry of `uid`, or nil when it is not in the ACL.
    func entry(_ uid: UID) async throws -> ACLEntry? {
        guard let bytes = try await self.redis.hget(self.keys.acl, field: uid.hex) else { return nil }
        return ACLRecord.decode(uid: uid, bytes: bytes)
    }

    /// Every ACL entry, ordered by UID text (a stable order for paging).
    func entries() async throws -> [ACLEntry] {
        let records = try await self.redis.hgetall(self.keys.acl)
        var entries: [ACLEntry] = []
        entries.reserveCapacity(records.count)
        for (hex, bytes) in records {
            guard let uid = try? UID(hex: hex), let entry = ACLRecord.decode(uid: uid, bytes: bytes) else { continue }
            entries.append(entry)
        }
        entries.sort { $0.uid.string < $1.uid.string }
        return entries
    }

    /// The presence of each element in `elements` (UID and group, nil group for the central),
    /// in the same order.
    func presence(of elements: [(uid: UID, group: GroupName?)]) async throws -> [DevicePresence] {
        var result: [DevicePresence] = []
        result.reserveCapacity(elements.count)
        var start = 0
        while start < elements.count {
            let chunk = elements[start..<min(start + Self.pipelineChunk, elements.count)]
            var commands: [[RedisArgument]] = []
            commands.reserveCapacity(chunk.count * 3)
            for element in chunk {
                commands.append(["HGETALL", .string(self.keys.session(element.uid))])
                commands.append(["PTTL", .string(self.keys.deviceToken(element.uid))])
                commands.append(["HGET", .string(self.keys.lastSeen), .string(element.uid.hex)])
            }
            let replies = try await self.redis.pipeline(commands)
            for (offset, element) in chunk.enumerated() {
                let session = SessionRecord(hgetall: replies[offset * 3])
                let ttl = replies[offset * 3 + 1].int ?? -2
                let lastSeen = replies[offset * 3 + 2].string.flatMap { Int($0) }
                result.append(
                    DevicePresence(
                        uid: element.uid, group: element.group, session: session, tokenTimeToLive: ttl == -2 ? nil : ttl,
                        lastSeen: lastSeen))
            }
            start += Self.pipelineChunk
        }
        return result
    }
}
