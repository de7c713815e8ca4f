import Logging
import Messaging
import RedisBus
import ServiceLifecycle

/// Tells other services this instance is alive: `ZADD <prefix>gateways <now ms> <instance>`
/// every `interval`, and `ZREM` on graceful exit (a crashed instance's score just ages).
struct GatewayHeartbeat: Service {
    let environment: GatewayEnvironment
    let redis: RedisClient
    var interval: Duration = .seconds(2)

    func run() async {
        let key = self.environment.keys.gateways
        let instance = self.environment.instanceID
        let redis = self.redis
        let logger = self.environment.logger
        let interval = self.interval
        await cancelWhenGracefulShutdown {
            var failing = false
            while !Task.isCancelled {
                do {
                    try await redis.zadd(key, members: [(score: Double(GatewayEnvironment.nowMilliseconds), member: .string(instance))])
                    if failing {
                        logger.info("heartbeat restored")
                        failing = false
                    }
                } catch {
                    if !failing {
                        logger.warning("heartbeat failed", metadata: ["key": "\(key)", "error": "\(error)"])
                        failing = true
                    }
                }
                try? await Task.sleep(for: interval)
            }
        }
        guard !Task.isCancelled else { return }
        do {
            try await redis.zrem(key, members: [.string(instance)])
        } catch {
            logger.warning("cannot remove the heartbeat", metadata: ["key": "\(key)", "error": "\(error)"])
        }
    }
}
