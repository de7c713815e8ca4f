import Logging
import RedisBus
import ServiceLifecycle

extension StreamReader {
    /// Follows an instance's own stream (`gw:<id>`, `api:<id>`) until graceful shutdown, then
    /// deletes it: what it still holds was for this process's connections or calls, which end
    /// with it. A cancellation (a hard stop) leaves the stream as it is.
    public func runThenDeleteStream(redis: RedisClient, logger: Logger) async {
        await cancelWhenGracefulShutdown {
            await self.run()
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
