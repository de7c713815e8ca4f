import Logging
import Messaging
import RedisBus
import ServiceKit
import ServiceLifecycle

/// Follows this instance's own reply stream (`<prefix>api:<instance>`) and hands each
/// `APIReply` to the call waiting for it.
///
/// The stream is emptied before the server starts (``clear(redis:stream:logger:)``: whatever it
/// holds answers calls of a previous process with this instance id, whose HTTP connections are
/// gone) and read from its beginning, so a reply appended before the first read is never
/// skipped. Graceful exit deletes it. In the service group it is placed before the HTTP server, so it stops only after the server has drained:
/// calls still waiting at SIGTERM keep receiving their replies.
struct ReplyStreamReader: Service {
    let redis: RedisClient
    let stream: String
    let pending: PendingCalls
    let metrics: HTTPAPIMetrics
    let logger: Logger
    let started: ReadinessFlag

    func run() async {
        let pending = self.pending
        let metrics = self.metrics
        let logger = self.logger
        let stream = self.stream
        let reader = StreamReader(
            client: self.redis,
            configuration: .init(stream: stream, startID: "0-0", batchSize: 512, block: .milliseconds(500)),
            logger: logger,
            onEventLoop: { entries in
            var replies: [APIReply] = []
            replies.reserveCapacity(entries.count)
            for entry in entries {
                do {
                    replies.append(try APIReply(entry: entry))
                } catch {
                    metrics.malformedReplies.increment()
                    logger.warning("malformed reply", metadata: ["stream": "\(stream)", "error": "\(error)"])
                }
            }
            let unmatched = pending.deliver(replies)
            if unmatched > 0 {
                metrics.unmatchedReplies.increment(by: unmatched)
                logger.debug("replies for calls no longer waiting", metadata: ["count": "\(unmatched)"])
            }
        })
        await self.started.set()
        await reader.runThenDeleteStream(redis: self.redis, logger: logger)
    }

    /// Deletes the stream; run before the HTTP server accepts calls.
    static func clear(redis: RedisClient, stream: String, logger: Logger) async {
        do {
            try await redis.send(["DEL", .string(stream)])
        } catch {
            // Not fatal: stale replies match no call and are dropped.
            logger.warning("cannot clear the reply stream at start", metadata: ["stream": "\(stream)", "error": "\(error)"])
        }
    }
}
