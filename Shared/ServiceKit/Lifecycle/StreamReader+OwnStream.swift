import Logging
import RedisBus
import ServiceLifecycle

extension StreamReader {
    /// How an instance's own stream is read after graceful shutdown began, before it is deleted.
    public struct Lingering: Sendable {
        /// Reading ends once nothing arrived for this long.
        public var quietPeriod: Duration
        /// Reading ends this long after shutdown began, quiet or not.
        public var limit: Duration

        /// - Parameters:
        ///   - quietPeriod: How long without entries ends the reading.
        ///   - limit: The longest it goes on after shutdown began.
        public init(quietPeriod: Duration, limit: Duration) {
            self.quietPeriod = quietPeriod
            self.limit = max(quietPeriod, limit)
        }
    }

    /// Follows an instance's own stream (`gw:<id>`, `api:<id>`) until graceful shutdown, then
    /// deletes it: what it still holds was for this process's connections or calls, which end
    /// with it. A cancellation (a hard stop) leaves the stream as it is.
    ///
    /// - Parameter lingering: When given, graceful shutdown does not stop the reading at once:
    ///   it goes on until the stream has been quiet for the period (or the limit passed), so
    ///   that what others were still appending is handled (the tcp-gateway hands frames for
    ///   sessions it just closed back to the router) rather than deleted unread.
    public func runThenDeleteStream(redis: RedisClient, logger: Logger, lingering: Lingering? = nil) async {
        if let lingering {
            let finish = Finish(quietPeriod: lingering.quietPeriod)
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    await self.run(finishing: finish)
                }
                group.addTask {
                    do {
                        try await gracefulShutdown()
                    } catch {
                        return  // cancelled: the reader is being cancelled too
                    }
                    finish.request()
                    do {
                        try await Task.sleep(for: lingering.limit)
                    } catch {
                        return  // the reader finished first
                    }
                    logger.warning(
                        "the instance's stream did not go quiet: reading stopped",
                        metadata: ["stream": "\(self.configuration.stream)", "after": "\(lingering.limit)"])
                }
                // The reader finishing (quiet, Redis unreachable, or cancelled) or the limit
                // passing ends both.
                await group.next()
                group.cancelAll()
            }
        } else {
            await cancelWhenGracefulShutdown {
                await self.run()
            }
        }
        guard !Task.isCancelled else { return }
        let stream = self.configuration.stream
        do {
            try await redis.send(["DEL", .string(stream)])
        } catch {
            logger.warning("cannot delete the instance's stream", metadata: ["stream": "\(stream)", "error": "\(error)"])
        }
    }
}
