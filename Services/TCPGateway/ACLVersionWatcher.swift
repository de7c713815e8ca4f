import Logging
import Messaging
import RedisBus
import ServiceLifecycle

/// Empties the gateway's ``ACLCache`` when the ACL changes: reads `<prefix>acl-version`, which
/// the router increments with every change (a replaced ACL, an entry set or removed), every
/// `interval`. A cached record therefore outlives a change by about `interval` at most; the
/// router's own check (`openSession`) closes a session opened with it in that time. While Redis
/// cannot be read the cache stays empty, so logins are checked against Redis, as without one.
struct ACLVersionWatcher: Service {
    let environment: GatewayEnvironment
    let redis: RedisClient
    var interval: Duration = .seconds(1)

    func run() async {
        let key = self.environment.keys.aclVersion
        let cache = self.environment.authenticator.cache
        let metrics = self.environment.metrics
        let logger = self.environment.logger
        let redis = self.redis
        let interval = self.interval
        await cancelWhenGracefulShutdown {
            // nil until a read succeeds: the first read after a failure empties the cache too.
            var seen: String??
            while !Task.isCancelled {
                do {
                    let version = try await redis.send(["GET", .string(key)]).string
                    if seen != .some(version) {
                        if seen != nil {
                            logger.debug("ACL changed: cached records dropped", metadata: ["version": "\(version ?? "none")"])
                        }
                        cache.removeAll()
                        metrics.aclCacheFlushes.increment()
                        seen = .some(version)
                    }
                } catch {
                    if seen != nil {
                        logger.warning("cannot read the ACL version: logins read the ACL in Redis", metadata: ["error": "\(error)"])
                    }
                    cache.removeAll()
                    seen = nil
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
}
