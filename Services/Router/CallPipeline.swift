import Logging
import Metrics
import NIOCore
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
    ///
    /// Futures, not a task: each round's reply arrives on the Redis client's event loop and
    /// the next round is sent from there, so a batch wakes no other thread. The future
    /// completes on that loop.
    /// - Returns: a future that fails when Redis cannot be reached; replies that are errors
    ///   are logged and counted.
    func execute(_ calls: [PlannedCall]) -> EventLoopFuture<Void> {
        self.execute(calls, round: 0)
    }

    private func execute(_ pending: [PlannedCall], round: Int) -> EventLoopFuture<Void> {
        let eventLoop = self.redis.eventLoop
        guard !pending.isEmpty && round < 8 else { return eventLoop.makeSucceededVoidFuture() }
        return self.redis.pipelineFuture(pending.map(\.command))
            .flatMap { replies in
                let missing = replies.indices.filter { replies[$0].errorMessage?.hasPrefix("NOSCRIPT") == true }
                guard !missing.isEmpty else { return eventLoop.makeSucceededFuture(replies) }
                // Redis lost the scripts (restarted, SCRIPT FLUSH): those calls did not run.
                return eventLoop.makeFutureWithTask { try await self.loadScripts() }
                    .flatMap { self.redis.pipelineFuture(missing.map { pending[$0].command }) }
                    .map { retried in
                        var replies = replies
                        for (index, reply) in zip(missing, retried) {
                            replies[index] = reply
                        }
                        return replies
                    }
            }
            .flatMap { replies in
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
                return self.execute(next, round: round + 1)
            }
    }
}
