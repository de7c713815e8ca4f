import Foundation
import IoTSocket
import Logging
import Messaging
import NIOCore
import NIOSSL
import RedisBus
import ServiceKit

/// What every connection handler of this gateway shares: settings, the registry, the publisher,
/// the authenticator, metrics. One instance per process; handlers hold a single reference to it
/// (a class, so that a connection's state stays small).
final class GatewayEnvironment: Sendable {
    let instanceID: String
    let keys: KeySpace
    let server: TCPServerConfiguration
    /// `MAXLEN ~` of every stream the gateway appends to.
    let streamMaxLength: Int
    /// Present when `SSLCrtFilename`/`SSLKeyFilename` are configured; built once at start.
    let tlsContext: NIOSSLContext?
    let registry: ConnectionRegistry
    let publisher: StreamPublisher
    let authenticator: Authenticator
    let metrics: GatewayMetrics
    let logger: Logger

    /// Each set-up step's deadline.
    let handshakeTimeout: TimeAmount
    /// Silence after which a session is pinged.
    let idleTimeout: TimeAmount
    /// How long after a Ping some traffic must arrive.
    let pongTimeout: TimeAmount
    /// Bytes one object's connection may have waiting in the gateway while the peer does not
    /// read; the central, which receives everything, gets 16 times more. Beyond, the connection
    /// is dropped (see `SessionHandler`).
    let objectMaxQueuedBytes = 1 << 20
    /// The answer to initiations the gateway does not take (full or draining): the redirect
    /// rule when `RedirectHost`/`RedirectPort` are configured, else a plain refusal.
    let elsewhereResponse: InitiationResponse

    init(
        runtime: ServiceRuntime,
        tlsContext: NIOSSLContext?,
        registry: ConnectionRegistry,
        publisher: StreamPublisher,
        authenticator: Authenticator,
        metrics: GatewayMetrics
    ) throws(StartupError) {
        let server = runtime.configuration.tcpServer
        self.instanceID = runtime.instanceID
        self.keys = runtime.keys
        self.server = server
        self.streamMaxLength = runtime.configuration.redis.streamMaxLength
        self.tlsContext = tlsContext
        self.registry = registry
        self.publisher = publisher
        self.authenticator = authenticator
        self.metrics = metrics
        self.logger = runtime.logger
        self.handshakeTimeout = .seconds(Int64(server.handshakeTimeoutSeconds))
        self.idleTimeout = .seconds(Int64(server.idleSeconds))
        self.pongTimeout = .seconds(Int64(server.pongTimeoutSeconds))
        if let host = server.redirectHost, let port = server.redirectPort {
            do {
                self.elsewhereResponse = try InitiationResponse(ok: true, rule: .redirect(host: host, port: UInt16(port)))
            } catch {
                throw StartupError(key: "TCPServer.RedirectHost", file: nil, problem: "\(error)")
            }
        } else {
            self.elsewhereResponse = .refused
        }
    }

    func maxQueuedBytes(central: Bool) -> Int {
        central ? 16 * self.objectMaxQueuedBytes : self.objectMaxQueuedBytes
    }

    /// The current time in Unix milliseconds, for events and heartbeats.
    static var nowMilliseconds: Int {
        Int((Date().timeIntervalSince1970 * 1000).rounded())
    }
}
