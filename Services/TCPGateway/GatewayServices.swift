import Foundation
import Messaging
import NIOCore
import NIOPosix
import RedisBus
import ServiceKit
import ServiceLifecycle

/// The tcp-gateway's components wired together from a ``ServiceRuntime``: what
/// `runtime.run` starts, in start order, and its readiness check.
///
/// Order matters for shutdown, which runs in reverse: the server drains first (sessions get
/// Close 0xA1), then the command reader reads on until its stream is quiet (frames routed to
/// the closed sessions go back to the router) and deletes it, the heartbeat is removed, and the
/// publisher goes last so that every session-closed event and returned frame reaches Redis.
struct GatewayServices {
    let services: [any Service]
    let readiness: [AdminServer.ReadinessCheck]

    /// - Throws: ``StartupError`` for an unusable TLS file or redirect target.
    init(runtime: ServiceRuntime, group: MultiThreadedEventLoopGroup = .singleton) throws(StartupError) {
        let configuration = runtime.configuration
        let metrics = GatewayMetrics()
        let tlsContext = try GatewayServer.makeTLSContext(configuration.tcpServer)
        let publisher = StreamPublisher(group: group, redis: runtime.redis, metrics: metrics, logger: runtime.logger)
        let routerStream = runtime.keys.routerStream
        let streamMaxLength = configuration.redis.streamMaxLength
        let registry = ConnectionRegistry(
            group: group, slotsCount: configuration.tcpServer.slotsCount, bootTag: Self.makeBootTag(), metrics: metrics,
            logger: runtime.logger,
            returnFrame: { session, frame, loop in
                let message = RouterMessage.returned(session, frame: frame)
                publisher.outbox(for: loop).append(StreamAppend(stream: routerStream, fields: message.fields, maxLength: streamMaxLength))
            })
        let authenticator = Authenticator(
            redis: runtime.redis, keys: runtime.keys, centralKey: configuration.central.authKey, throttle: LoginThrottle(),
            cache: ACLCache(), metrics: metrics, logger: runtime.logger)
        let environment = try GatewayEnvironment(
            runtime: runtime, tlsContext: tlsContext, registry: registry, publisher: publisher, authenticator: authenticator,
            metrics: metrics)
        if configuration.central.authKey == nil {
            runtime.logger.warning("no central key configured (Central.AuthKey): central logins will be refused")
        }
        self.services = [
            publisher,
            GatewayHeartbeat(environment: environment, redis: runtime.redis),
            ACLVersionWatcher(environment: environment, redis: runtime.redis),
            GatewayCommandReader(environment: environment, redis: runtime.redis),
            GatewayServer(environment: environment, group: group),
        ]
        self.readiness = [AdminServer.ReadinessCheck(name: "listener") { registry.isListening }]
    }

    /// Process start time in milliseconds, base 36: short, and different for every start of an
    /// instance that keeps its id.
    private static func makeBootTag() -> String {
        String(Int((Date().timeIntervalSince1970 * 1000).rounded()), radix: 36)
    }
}
