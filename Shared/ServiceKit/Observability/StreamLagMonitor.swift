import Logging
import Metrics
import RedisBus
import ServiceLifecycle

/// Exports how far the consumer groups a service reads from are behind their streams, every
/// `interval`:
/// - `iots_stream_lag{stream,group}`: entries not yet delivered to the group (what is waiting);
/// - `iots_stream_pending{stream,group}`: entries delivered and not yet acknowledged (what is
///   being worked on, or was left by a crashed instance until it is taken over).
///
/// Every instance of a service reports the same group-wide figures (take the max across them).
/// Redis cannot always tell the lag (after entries were deleted out of order); the gauge then
/// keeps its last value.
public struct StreamLagMonitor: Service {
    /// One group's figures at one moment.
    public struct Sample: Sendable, Equatable {
        public var stream: String
        public var group: String
        /// Nil when Redis cannot tell, or the stream or group does not exist yet.
        public var lag: Int?
        public var pending: Int?
    }

    private let redis: RedisClient
    private let groups: [(stream: String, group: String)]
    private let interval: Duration

    /// - Parameter groups: the (stream key, group) pairs to watch.
    public init(redis: RedisClient, groups: [(stream: String, group: String)], interval: Duration = .seconds(5)) {
        self.redis = redis
        self.groups = groups
        self.interval = interval
    }

    public func run() async {
        let gauges = self.groups.map { watched in
            let dimensions = [("stream", watched.stream), ("group", watched.group)]
            return (lag: Gauge(label: "iots_stream_lag", dimensions: dimensions), pending: Gauge(label: "iots_stream_pending", dimensions: dimensions))
        }
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                for (sample, gauge) in zip(await self.sample(), gauges) {
                    if let lag = sample.lag { gauge.lag.record(lag) }
                    if let pending = sample.pending { gauge.pending.record(pending) }
                }
                try? await Task.sleep(for: self.interval)
            }
        }
    }

    /// Reads every watched group's figures now (nil figures when Redis does not answer).
    public func sample() async -> [Sample] {
        var samples: [Sample] = []
        for watched in self.groups {
            let info = try? await self.redis.xinfoGroups(watched.stream).first { $0.name == watched.group }
            samples.append(Sample(stream: watched.stream, group: watched.group, lag: info?.lag, pending: info?.pending))
        }
        return samples
    }
}
