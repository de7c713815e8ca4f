import IoTSocket
import ServiceKit
import ServiceLifecycle

/// http-api's components wired together from a ``ServiceRuntime``: what `runtime.run` starts,
/// in start order, and its readiness checks.
///
/// Order matters for shutdown, which runs in reverse: the server stops accepting and drains
/// (calls still waiting get their reply or 0xA1 at their deadline) while the reply reader keeps
/// reading; then the reader stops and deletes this instance's stream.
struct HTTPAPIServices {
    let services: [any Service]
    let readiness: [AdminServer.ReadinessCheck]

    /// What `make` needs besides a valid configuration: the central key, and TLS files that load
    /// and match when named. Run by `--check-config` too.
    /// - Throws: ``StartupError`` naming the key.
    static func checkStartup(_ configuration: ConcentratorConfiguration) throws(StartupError) {
        _ = try Self.centralKey(configuration)
        let server = configuration.httpServer
        _ = try TLSServerFiles.context(section: "HTTPServer", certificateFile: server.tlsCertificateFile, keyFile: server.tlsKeyFile)
    }

    private static func centralKey(_ configuration: ConcentratorConfiguration) throws(StartupError) -> AuthKey {
        guard let centralKey = configuration.central.authKey else {
            throw StartupError(
                key: "Central.AuthKey", problem: "required: every call must carry it as its bearer key (or set IOTS_CENTRAL_AUTHKEY)")
        }
        return centralKey
    }

    /// Clears this instance's reply stream, then builds the services.
    /// - Throws: ``StartupError`` without a central key or with an unusable TLS file.
    static func make(runtime: ServiceRuntime) async throws(StartupError) -> HTTPAPIServices {
        let configuration = runtime.configuration
        let centralKey = try Self.centralKey(configuration)
        let metrics = HTTPAPIMetrics()
        let pending = PendingCalls(metrics: metrics)
        let replyStream = runtime.keys.apiStream(runtime.instanceID)
        let exchange = RouterExchange(
            redis: runtime.redis, keys: runtime.keys, replyStream: replyStream, streamMaxLength: configuration.redis.streamMaxLength,
            pending: pending, metrics: metrics, logger: runtime.logger)
        let readerStarted = ReadinessFlag()
        let listening = ReadinessFlag()
        let redis = runtime.redis
        let readiness = [
            AdminServer.ReadinessCheck(name: "reply-reader") { await readerStarted.isSet },
            AdminServer.ReadinessCheck(name: "listener") { await listening.isSet },
        ]
        let environment = APIEnvironment(
            authorization: BearerAuthorization(centralKey: centralKey),
            exchange: exchange,
            directory: DeviceDirectory(redis: runtime.redis, keys: runtime.keys),
            metrics: metrics,
            logger: runtime.logger,
            maxContentLength: configuration.httpServer.maxContentLength,
            maxWaitSeconds: configuration.httpServer.maxWaitSeconds,
            keepSessionMilliseconds: configuration.keepSessionSeconds * 1000,
            aclTimeout: .seconds(10),
            failingReadinessChecks: {
                var failing: [String] = []
                if await !redis.isReachable() { failing.append("redis") }
                for check in readiness where await !check.check() {
                    failing.append(check.name)
                }
                return failing
            }
        )
        let server = try APIServer(
            configuration: configuration.httpServer, responder: APIResponder(environment: environment), listening: listening,
            logger: runtime.logger)
        await ReplyStreamReader.clear(redis: runtime.redis, stream: replyStream, logger: runtime.logger)
        let reader = ReplyStreamReader(
            redis: runtime.redis, stream: replyStream, pending: pending, metrics: metrics, logger: runtime.logger, started: readerStarted)
        runtime.logger.info(
            "http-api configured",
            metadata: [
                "listen": "\(configuration.httpServer.address):\(configuration.httpServer.port)",
                "tls": "\(configuration.httpServer.tlsEnabled)", "replyStream": "\(replyStream)",
                "maxContentLength": "\(configuration.httpServer.maxContentLength)",
                "maxWaitSeconds": "\(configuration.httpServer.maxWaitSeconds)",
            ])
        // Shutdown runs in reverse: the server first (calls in progress still get their reply
        // or their deadline), then the reader, then the pending calls.
        return HTTPAPIServices(services: [pending, reader, server], readiness: readiness)
    }
}
