import Hummingbird
import HummingbirdCore
import HummingbirdHTTP2
import Logging
import Metrics
import NIOCore
import NIOSSL
import ServiceKit
import ServiceLifecycle

/// The API's HTTP listener: HTTPS (HTTP/2 or HTTP/1.1 chosen by ALPN) when
/// `HTTPServer.SSLCrtFilename`/`SSLKeyFilename` are set, plain HTTP/1.1 with keep-alive
/// otherwise.
///
/// On graceful shutdown it stops accepting, lets the calls in progress finish (each ends by its
/// deadline at the latest) and then returns.
struct APIServer: Service {
    private let application: Application<APIResponder>
    /// The `Server` header of every response.
    static let serverName = "iots-http-api"

    /// - Parameters:
    ///   - listening: set once the socket is bound, for `/ready`.
    /// - Throws: ``StartupError`` for an unusable certificate or key.
    init(configuration: HTTPServerConfiguration, responder: APIResponder, listening: ReadinessFlag, logger: Logger) throws(StartupError) {
        // The idle limit is ours (IdleConnectionHandler), not Hummingbird's: its timer sits after
        // DirectCallHandler and would not see the calls answered there.
        let dateHeader = HTTPDateHeader()
        let idleTimeout = TimeAmount.seconds(Int64(configuration.idleTimeoutSeconds))
        let idleClosed = Counter(label: "iots_http_connections_idle_closed_total")
        let channel = HTTP1Channel.Configuration(additionalChannelHandlers: [
            IdleConnectionHandler(timeout: idleTimeout, closed: idleClosed),
            DirectCallHandler(responder: responder, dateHeader: dateHeader, serverName: Self.serverName),
            CloseAfterResponseHandler(),
        ])
        let server: HTTPServerBuilder
        if let tls = try Self.makeTLSConfiguration(configuration) {
            // The key was checked against its certificate at start-up (`checkStartup`). An HTTP/2
            // connection with no stream open for IdleTimeoutSec is closed (GOAWAY), and so is a
            // connection whose TLS handshake does not finish in that time.
            let upgrade = HTTP2UpgradeChannel.Configuration(
                idleTimeout: .seconds(configuration.idleTimeoutSeconds), streamConfiguration: channel)
            server = HTTPServerBuilder { responder in
                TLSHandshakeDeadline(
                    base: try HTTP2UpgradeChannel(tlsConfiguration: tls, configuration: upgrade, responder: responder),
                    timeout: idleTimeout, closed: idleClosed)
            }
        } else {
            server = .http1(configuration: channel)
        }
        self.application = Application(
            responder: responder,
            server: server,
            configuration: .init(
                address: .hostname(configuration.address, port: configuration.port), serverName: Self.serverName,
                backlog: configuration.backlog,
                availableConnectionsDelegate: ConnectionLimit(
                    limit: configuration.maxConnections, open: Gauge(label: "iots_http_connections_open"))),
            onServerRunning: { _ in await listening.set() },
            logger: logger
        )
    }

    func run() async throws {
        try await self.application.run()
    }

    /// The server's TLS configuration, or nil when no certificate is configured.
    /// - Throws: ``StartupError`` naming the file that cannot be read or parsed.
    static func makeTLSConfiguration(_ configuration: HTTPServerConfiguration) throws(StartupError) -> TLSConfiguration? {
        try TLSServerFiles.configuration(
            section: "HTTPServer", certificateFile: configuration.tlsCertificateFile, keyFile: configuration.tlsKeyFile)
    }
}
