import ArgumentParser
import IoTSocket
import Messaging
import RedisBus

/// Writes the bench devices into the concentrator's ACL directly in Redis, so every run sets
/// itself up ("ACL setup is automatic"). Devices are `bench-<n>` in group `Bench` (or the one
/// `--group` names), all with one key.
enum BenchACL {
    static let key = try! AuthKey(hex: "b0b1b2b3b4b5b6b7b8b9babbbcbdbebf")

    static func uid(_ index: Int) -> UID {
        try! UID("bench-\(index)")
    }

    /// Adds devices `range` of `group` to the ACL under `prefix`.
    static func install(_ range: Range<Int>, group: GroupName, redisURL: String, prefix: String) async throws {
        let client = try RedisClient(url: redisURL)
        let keys = KeySpace(prefix: prefix)
        var index = range.lowerBound
        while index < range.upperBound {
            var command: [RedisArgument] = ["HSET", .string(keys.acl)]
            for device in index..<min(index + 1000, range.upperBound) {
                let uid = Self.uid(device)
                command.append(.string(uid.hex))
                command.append(.bytes(ACLRecord.encode(ACLEntry(group: group, uid: uid, key: Self.key))))
            }
            _ = try await client.send(command)
            index += 1000
        }
        await client.close()
    }
}

/// `--redis` and `--prefix` of the commands that put their devices in the ACL themselves.
struct BenchACLOptions: ParsableArguments {
    @Option(help: "Redis URL, to put the bench devices in the ACL (none: they must already be there).") var redis: String?
    @Option(help: "Key prefix of the concentrator in Redis.") var prefix = "iots:"
    @Option(help: "The devices' group: whether they get telemetry tokens at login is the group's setting.") var group = "Bench"

    /// Adds devices `range` to the ACL when `--redis` is given.
    func install(_ range: Range<Int>) async throws {
        guard let redis = self.redis else { return }
        try await BenchACL.install(range, group: try GroupName(self.group), redisURL: redis, prefix: self.prefix)
    }
}
