import Hummingbird
import HummingbirdCore
import HummingbirdHTTP2
import Logging
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

    /// - Parameters:
    ///   - listening: set once the socket is bound, for `/ready`.
    /// - Throws: ``HTTPAPIStartupError`` for an unusable certificate or key.
    init(configuration: HTTPServerConfiguration, responder: APIResponder, listening: ReadinessFlag, logger: Logger) throws(HTTPAPIStartupError) {
        // No idle limit on HTTP/1.1: centrals keep connections open between calls, and a call
        // may legitimately be held for MaxSecWaitResponse.
        let channel = HTTP1Channel.Configuration(additionalChannelHandlers: [CloseAfterResponseHandler()])
        let server: HTTPServerBuilder
        if let tls = try Self.makeTLSConfiguration(configuration) {
            do {
                server = try .http2Upgrade(tlsConfiguration: tls, configuration: .init(streamConfiguration: channel))
            } catch {
                throw HTTPAPIStartupError(
                    key: "HTTPServer.SSLKeyFilename", file: configuration.tlsKeyFile,
                    problem: "cannot set up TLS with this key and certificate: \(error)")
            }
        } else {
            server = .http1(configuration: channel)
        }
        self.application = Application(
            responder: responder,
            server: server,
            configuration: .init(
                address: .hostname(configuration.address, port: configuration.port), serverName: "iots-http-api",
                backlog: configuration.backlog),
            onServerRunning: { _ in await listening.set() },
            logger: logger
        )
    }

    func run() async throws {
        try await self.application.run()
    }

    /// The server's TLS configuration, or nil when no certificate is configured.
    /// - Throws: ``HTTPAPIStartupError`` naming the file that cannot be read or parsed.
    static func makeTLSConfiguration(_ configuration: HTTPServerConfiguration) throws(HTTPAPIStartupError) -> TLSConfiguration? {
        guard let certificateFile = configuration.tlsCertificateFile, let keyFile = configuration.tlsKeyFile else { return nil }
        let certificates: [NIOSSLCertificate]
        do {
            certificates = try NIOSSLCertificate.fromPEMFile(certificateFile)
        } catch {
            throw HTTPAPIStartupError(key: "HTTPServer.SSLCrtFilename", file: certificateFile, problem: "cannot load a PEM certificate: \(error)")
        }
        guard !certificates.isEmpty else {
            throw HTTPAPIStartupError(key: "HTTPServer.SSLCrtFilename", file: certificateFile, problem: "holds no PEM certificate")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: keyFile, format: .pem)
        } catch {
            throw HTTPAPIStartupError(key: "HTTPServer.SSLKeyFilename", file: keyFile, problem: "cannot load a PEM private key: \(error)")
        }
        return TLSConfiguration.makeServerConfiguration(certificateChain: certificates.map { .certificate($0) }, privateKey: .privateKey(key))
    }
}
