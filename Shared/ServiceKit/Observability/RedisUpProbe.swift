import Metrics
import RedisBus
import ServiceLifecycle

/// Keeps `iots_redis_up` current whether or not anything probes `/ready`: a `PING` every
/// `interval` records 1 when Redis answers within a second, 0 otherwise (`/ready` records its
/// own answers too).
struct RedisUpProbe: Service {
    let redis: RedisClient
    let gauge: Gauge
    let interval: Duration

    func run() async {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                self.gauge.record(await self.redis.isReachable() ? 1 : 0)
                try? await Task.sleep(for: self.interval)
            }
        }
    }
}
