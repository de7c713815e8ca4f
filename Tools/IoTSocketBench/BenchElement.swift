import IoTSocket
import NIOCore
import NIOPosix
import NIOSSL

/// Opens IoTSocket sessions for load tests: each a channel that logs in, then decodes
/// transmissions and hands them to `onTransmission` on the channel's event loop.
enum BenchElement {
    /// Connects and logs in; the returned channel is ready for `Transmission` writes.
    ///
    /// - Parameters:
    ///   - sourceAddress: the local address to bind (spreads sessions over 127.0.0.0/8 so one
    ///     destination is not limited by one source address's ephemeral ports).
    ///   - onTransmission: called for every transmission received, on the event loop; nil
    ///     discards them (a session only held open).
    static func connect(
        group: any EventLoopGroup, host: String, port: Int, sourceAddress: String? = nil, uid: UID, key: AuthKey,
        tls: NIOSSLContext? = nil,
        onTransmission: (@Sendable (Transmission, any Channel) -> Void)? = nil
    ) async throws -> any Channel {
        try await self.connectFuture(
            group: group, host: host, port: port, sourceAddress: sourceAddress, uid: uid, key: key, tls: tls, onTransmission: onTransmission
        ).get()
    }

    /// ``connect(group:host:port:sourceAddress:uid:key:tls:onTransmission:)`` as a future, for
    /// drivers that keep many logins in flight from the event loops (no task per login: the
    /// client then costs the box less than the gateway it measures).
    static func connectFuture(
        group: any EventLoopGroup, host: String, port: Int, sourceAddress: String? = nil, uid: UID, key: AuthKey,
        tls: NIOSSLContext? = nil,
        onTransmission: (@Sendable (Transmission, any Channel) -> Void)? = nil
    ) -> EventLoopFuture<any Channel> {
        let eventLoop = group.next()
        let loggedIn = eventLoop.makePromise(of: Void.self)
        var bootstrap = ClientBootstrap(group: eventLoop)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(BenchLoginHandler(uid: uid, key: key, tls: tls, loggedIn: loggedIn))
                    try sync.addHandler(ByteToMessageHandler(TransmissionDecoder(maxTransmissionLength: 16 * 1024 * 1024)))
                    try sync.addHandler(MessageToByteHandler(TransmissionEncoder()))
                    try sync.addHandler(BenchTransmissionHandler(onTransmission: onTransmission))
                }
            }
        if let sourceAddress {
            do {
                bootstrap = bootstrap.bind(to: try SocketAddress(ipAddress: sourceAddress, port: 0))
            } catch {
                loggedIn.fail(error)
                return eventLoop.makeFailedFuture(error)
            }
        }
        return bootstrap.connect(host: host, port: port)
            .flatMapError { error in
                loggedIn.fail(error)
                return eventLoop.makeFailedFuture(error)
            }
            .flatMap { channel in loggedIn.futureResult.map { channel } }
    }

    /// A TLS context that accepts any server certificate (load tests against self-signed ones).
    static func insecureTLSContext() throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .none
        return try NIOSSLContext(configuration: configuration)
    }
}

/// Hands decoded transmissions to a closure; answers pings so idle sessions stay healthy.
final class BenchTransmissionHandler: ChannelInboundHandler {
    typealias InboundIn = Transmission
    typealias OutboundOut = Transmission

    private let onTransmission: (@Sendable (Transmission, any Channel) -> Void)?

    init(onTransmission: (@Sendable (Transmission, any Channel) -> Void)?) {
        self.onTransmission = onTransmission
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let transmission = self.unwrapInboundIn(data)
        if transmission == .ping {
            context.writeAndFlush(self.wrapOutboundOut(.pong), promise: nil)
            return
        }
        self.onTransmission?(transmission, context.channel)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
