import IoTSocket
import Logging
import Messaging
import RedisBus

/// The access control list in Redis (`acl` hash), replaced as a whole.
///
/// The router is the ACL's single writer: a central TCP session's ToT 0x0 and the HTTP API's
/// `/acl` both come through it. A replacement is written to a staging key and renamed over the
/// live one in one `MULTI`, so gateways never see half a list. Elements that left the list lose
/// their session: an online one is closed (0x01), a kept one dropped (held requests answered
/// 0xA0).
struct ACLStore: Sendable {
    let redis: RedisClient
    let router: MessageRouter
    let pipeline: CallPipeline
    let logger: Logger

    private var keys: KeySpace { self.router.settings.keys }

    /// Replaces the whole ACL with `entries` (later duplicates of a UID win).
    func replace(with entries: [ACLEntry]) async throws {
        let keys = self.keys
        let previous = Set(try await self.redis.send(["HKEYS", .string(keys.acl)]).array?.compactMap(\.string) ?? [])
        let staging = keys.acl + ":staging:" + self.router.settings.instanceID
        var commands: [[RedisArgument]] = [["MULTI"], ["DEL", .string(staging)]]
        var index = 0
        while index < entries.count {
            var command: [RedisArgument] = ["HSET", .string(staging)]
            for entry in entries[index..<min(index + 1000, entries.count)] {
                command.append(.string(entry.uid.hex))
                command.append(.bytes(ACLRecord.encode(entry)))
            }
            commands.append(command)
            index += 1000
        }
        commands.append(entries.isEmpty ? ["DEL", .string(keys.acl)] : ["RENAME", .string(staging), .string(keys.acl)])
        commands.append(["INCR", .string(keys.aclVersion)])
        commands.append(["EXEC"])
        try Self.check(try await self.redis.pipeline(commands), "ACL replacement")
        let current = Set(entries.map(\.uid.hex))
        let removed = previous.subtracting(current).compactMap { try? UID(hex: $0) }
        self.router.metrics.aclReplacements.increment()
        self.router.metrics.aclSize.record(current.count)
        self.logger.notice("ACL replaced", metadata: ["entries": "\(current.count)", "removed": "\(removed.count)"])
        if !removed.isEmpty {
            try await self.pipeline.execute(removed.map(self.revoke)).get()
        }
    }

    /// Applies an ACL change made over HTTP and confirms it to the waiting call.
    func apply(_ update: ACLUpdate) async throws {
        let keys = self.keys
        switch update.change {
        case .replace(let entries):
            try await self.replace(with: entries)
        case .put(let entry):
            try Self.check(
                try await self.redis.pipeline([
                    ["HSET", .string(keys.acl), .string(entry.uid.hex), .bytes(ACLRecord.encode(entry))], ["INCR", .string(keys.aclVersion)],
                ]), "ACL entry update")
            self.logger.notice("ACL entry set", metadata: ["uid": "\(entry.uid)", "group": "\(entry.group)"])
        case .remove(let uid):
            let replies = try await self.redis.pipeline([["HDEL", .string(keys.acl), .string(uid.hex)], ["INCR", .string(keys.aclVersion)]])
            try Self.check(replies, "ACL entry removal")
            let removed = replies.first?.int ?? 0
            self.logger.notice("ACL entry removed", metadata: ["uid": "\(uid)", "existed": "\(removed == 1)"])
            try await self.pipeline.execute([self.revoke(uid)]).get()
        }
        let size = try await self.redis.send(["HLEN", .string(keys.acl)]).int ?? 0
        self.router.metrics.aclSize.record(size)
        let reply = APIReply.aclApplied(correlation: update.correlation, outcome: "ok")
        _ = try await self.redis.xadd(
            update.replyStream, fields: reply.fields, maxLength: self.router.settings.streamMaxLength)
    }

    /// Loads `entries` only when Redis holds no ACL yet, so a router restart never overwrites
    /// what the central pushed since.
    func seedIfEmpty(with entries: [ACLEntry], source: String) async throws {
        let existing = try await self.redis.send(["EXISTS", .string(self.keys.acl)]).int ?? 0
        guard existing == 0 else {
            self.logger.info("ACL already in Redis; ACLFile not applied", metadata: ["file": "\(source)"])
            return
        }
        self.logger.notice("seeding the ACL from file", metadata: ["file": "\(source)", "entries": "\(entries.count)"])
        try await self.replace(with: entries)
    }

    /// Throws the first error reply of a pipeline.
    private static func check(_ replies: [RedisValue], _ what: String) throws {
        if let failure = replies.first(where: { $0.errorMessage != nil })?.errorMessage {
            throw RedisError.server(message: failure, command: what)
        }
    }

    /// Ends the session of an element that is no longer authorised.
    private func revoke(_ uid: UID) -> PlannedCall {
        let keys = self.keys
        return .script(
            RouterScripts.revokeSession,
            keys: [keys.session(uid), keys.held(uid), keys.keptDeadlines, keys.deviceToken(uid), keys.tokenRenewals],
            arguments: [.string(uid.hex), .string(keys.prefix), .integer(self.router.settings.streamMaxLength)]
        ) { reply in
            guard let items = reply.array, let state = items.first?.string, state == "kept" else { return [] }
            return self.router.answerHeld(items.dropFirst().compactMap(\.bytes), heldFor: uid)
        }
    }
}
