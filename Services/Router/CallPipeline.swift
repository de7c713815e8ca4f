import Logging
import Metrics
import RedisBus

/// Sends planned calls as one pipeline per round, then the follow-ups their replies asked for,
/// until none remain.
///
/// Scripts are loaded at start; if Redis lost them (restarted, `SCRIPT FLUSH`), the calls that
/// failed with `NOSCRIPT` did not run, so they are re-sent after loading the scripts again.
struct CallPipeline: Sendable {
    let redis: RedisClient
    let logger: Logger
    private let failedCalls = Counter(label: "iots_router_redis_call_errors_total")

    init(redis: RedisClient, logger: Logger) {
        self.redis = redis
        self.logger = logger
    }

    /// Loads every router script into Redis' script cache.
    func loadScripts() async throws {
        for script in RouterScripts.all {
            try await self.redis.loadScript(script)
        }
    }

    /// Executes `calls` and their follow-ups (at most 8 rounds deep: a cycle would be a bug).
    /// - Throws: when Redis cannot be reached; replies that are errors are logged and counted.
    func execute(_ calls: [PlannedCall]) async throws {
        var pending = calls
        var round = 0
        while !pending.isEmpty && round < 8 {
            var replies = try await self.redis.pipeline(pending.map(\.command))
            let missing = replies.indices.filter { replies[$0].errorMessage?.hasPrefix("NOSCRIPT") == true }
            if !missing.isEmpty {
                try await self.loadScripts()
                let retried = try await self.redis.pipeline(missing.map { pending[$0].command })
                for (index, reply) in zip(missing, retried) {
                    replies[index] = reply
                }
            }
            var next: [PlannedCall] = []
            for (call, reply) in zip(pending, replies) {
                if let message = reply.errorMessage {
                    self.failedCalls.increment()
                    self.logger.error(
                        "redis refused a routing step",
                        metadata: ["error": "\(message)", "command": "\(call.command.first.map { "\($0)" } ?? "")"])
                    continue
                }
                next += call.onReply(reply)
            }
            pending = next
            round += 1
        }
    }
}
