import Logging
import Messaging
import RedisBus

/// The telemetry retry set and dead-letter stream in Redis, shared by every dispatcher.
///
/// Retries: the sorted set ``KeySpace/webhookRetries(_:)`` (webhook id → due time) and the hash
/// ``KeySpace/webhookRetryMessages(_:)`` (webhook id → ``PendingTelemetry/encoded()``). An
/// instance takes due messages with ``lease(nowMilliseconds:leaseUntilMilliseconds:count:)``,
/// which moves their due time to the end of the lease instead of removing them: if the
/// instance dies mid-attempt, they become due again when the lease ends and another instance
/// takes them (at least once).
struct TelemetryRetryStore: Sendable {
    private let redis: RedisClient
    private let retries: String
    private let messages: String
    private let deadLetters: String
    private let logger: Logger

    init(redis: RedisClient, keys: KeySpace, logger: Logger) {
        self.redis = redis
        self.retries = keys.webhookRetries(.telemetry)
        self.messages = keys.webhookRetryMessages(.telemetry)
        self.deadLetters = keys.webhookDeadLetters(.telemetry)
        self.logger = logger
    }

    /// Takes up to `count` messages due by `now`, leased until `leaseUntil`; oldest first.
    func lease(nowMilliseconds now: Int, leaseUntilMilliseconds leaseUntil: Int, count: Int) async throws -> [PendingTelemetry] {
        let reply = try await self.redis.evalsha(
            Self.leaseScript, keys: [self.retries, self.messages], arguments: [.integer(now), .integer(leaseUntil), .integer(count)])
        var leased: [PendingTelemetry] = []
        var unreadable: [RedisArgument] = []
        let values = reply.array ?? []
        var index = 0
        while index + 1 < values.count {
            if let bytes = values[index + 1].bytes, let message = PendingTelemetry(encoded: bytes) {
                leased.append(message)
            } else if let id = values[index].string {
                unreadable.append(.string(id))
            }
            index += 2
        }
        if !unreadable.isEmpty {
            // A record this version cannot read would come back forever: drop it, loudly.
            self.logger.error("dropping unreadable telemetry retry records", metadata: ["count": "\(unreadable.count)"])
            _ = try await self.redis.pipeline([["ZREM", .string(self.retries)] + unreadable, ["HDEL", .string(self.messages)] + unreadable])
        }
        return leased.sorted { $0.precedes($1) }
    }

    /// Writes what became of `results`. Messages taken from the retry set
    /// (`fromRetrySet`) leave it when delivered or dead-lettered.
    /// - Throws: a ``RedisError`` when a write failed (the caller must not acknowledge).
    func apply(_ results: [(message: PendingTelemetry, disposition: TelemetryDisposition)], fromRetrySet: Bool, nowMilliseconds now: Int)
        async throws
    {
        var commands: [[RedisArgument]] = []
        for (message, disposition) in results {
            let id = RedisArgument.string(message.webhookID)
            switch disposition {
            case .delivered:
                if fromRetrySet {
                    commands.append(["ZREM", .string(self.retries), id])
                    commands.append(["HDEL", .string(self.messages), id])
                }
            case .retry(let updated, let due):
                commands.append(["HSET", .string(self.messages), id, .bytes(updated.encoded())])
                commands.append(["ZADD", .string(self.retries), .integer(due), id])
            case .deadLetter(let updated, let reason, _):
                commands.append(StreamAppend(stream: self.deadLetters, fields: updated.deadLetterFields(reason: reason, atMilliseconds: now)).command)
                if fromRetrySet {
                    commands.append(["ZREM", .string(self.retries), id])
                    commands.append(["HDEL", .string(self.messages), id])
                }
            }
        }
        guard !commands.isEmpty else { return }
        let replies = try await self.redis.pipeline(commands)
        if let failure = replies.first(where: { $0.errorMessage != nil }), let message = failure.errorMessage {
            throw RedisError.server(message: message, command: "telemetry retry write")
        }
    }

    /// Moves every dead-lettered message back to the retry set, due now, with a fresh history
    /// (same webhook id). Each chunk moves atomically, so a crash never loses or doubles one.
    /// - Returns: how many were moved.
    func replayDeadLetters(nowMilliseconds now: Int) async throws -> Int {
        var moved = 0
        while true {
            let entries = try await self.redis.xrange(self.deadLetters, count: 256)
            if entries.isEmpty { break }
            var commands: [[RedisArgument]] = []
            for entry in entries {
                guard let message = PendingTelemetry(deadLetter: entry) else {
                    self.logger.error("dead-letter entry unreadable, dropped", metadata: ["entry": "\(entry.id)"])
                    continue
                }
                commands.append(["HSET", .string(self.messages), .string(message.webhookID), .bytes(message.encoded())])
                commands.append(["ZADD", .string(self.retries), .integer(now), .string(message.webhookID)])
                moved += 1
            }
            commands.append(["XDEL", .string(self.deadLetters)] + entries.map { .string($0.id) })
            _ = try await self.redis.transaction(commands)
            if commands.count == 1 { break }
        }
        return moved
    }

    /// Messages waiting for a retry, and dead-lettered messages.
    func backlog() async throws -> (retrying: Int, deadLettered: Int) {
        let replies = try await self.redis.pipeline([["ZCARD", .string(self.retries)], ["XLEN", .string(self.deadLetters)]])
        return (replies[0].int ?? 0, replies[1].int ?? 0)
    }

    // KEYS: retry set, messages hash. ARGV: now, lease end, count.
    // Returns id, record, id, record… for the due messages, each re-scored to the lease end.
    private static let leaseScript = RedisScript(
        """
        local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
        local out = {}
        for _, id in ipairs(ids) do
          local record = redis.call('HGET', KEYS[2], id)
          if record then
            redis.call('ZADD', KEYS[1], ARGV[2], id)
            out[#out + 1] = id
            out[#out + 1] = record
          else
            redis.call('ZREM', KEYS[1], id)
          end
        end
        return out
        """)
}
