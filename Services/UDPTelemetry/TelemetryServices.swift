import NIOCore
import NIOPosix
import RedisBus
import ServiceKit
import ServiceLifecycle

/// The udp-telemetry components wired together from a ``ServiceRuntime``: what `runtime.run`
/// starts, in start order, and the readiness check.
///
/// Order matters for shutdown, which runs in reverse: the listener closes its sockets first,
/// then the resolver answers the lookups still in flight (releasing the datagrams that waited),
/// and the appender goes last so that everything accepted reaches the stream.
struct TelemetryServices {
    let services: [any Service]
    let readiness: [AdminServer.ReadinessCheck]

    init(runtime: ServiceRuntime, group: MultiThreadedEventLoopGroup = .singleton) {
        let settings = TelemetrySettings(configuration: runtime.configuration)
        let metrics = TelemetryMetrics()
        let loops = Array(group.makeIterator().prefix(max(1, settings.socketCount ?? Int.max)))
        let appender = TelemetryAppender(
            loops: loops, redis: runtime.redis, stream: runtime.keys.telemetryStream, settings: settings, metrics: metrics,
            logger: runtime.logger)
        // Short limits: see `TelemetryTokenResolver`.
        let lookupClient = RedisClient(
            configuration: RedisClient.Configuration(
                url: runtime.redis.url,
                connection: RedisConnection.Configuration(connectTimeout: .seconds(1), commandTimeout: .seconds(2)),
                connectionWaitTimeout: .seconds(1)
            ),
            eventLoopGroup: group,
            logger: runtime.logger
        )
        let telemetryGroups = Set(runtime.configuration.groups.filter { $0.value.telemetry }.keys)
        let resolver = TelemetryTokenResolver(
            redis: lookupClient, keys: runtime.keys, telemetryGroups: telemetryGroups, metrics: metrics, logger: runtime.logger)
        let listener = TelemetryListener(
            loops: loops, settings: settings, appender: appender, resolver: resolver, metrics: metrics, logger: runtime.logger)
        self.services = [appender, resolver, listener]
        self.readiness = [AdminServer.ReadinessCheck(name: "listener") { listener.isListening }]
    }
}
