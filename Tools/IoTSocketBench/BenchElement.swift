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
        var bootstrap = ClientBootstrap(group: group)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(10))
        if let sourceAddress {
            bootstrap = bootstrap.bind(to: try SocketAddress(ipAddress: sourceAddress, port: 0))
        }
        let channel = try await bootstrap.connect(host: host, port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                let loggedIn = channel.eventLoop.makePromise(of: Void.self)
                let sync = channel.pipeline.syncOperations
                try sync.addHandler(BenchLoginHandler(uid: uid, key: key, tls: tls, loggedIn: loggedIn))
                try sync.addHandler(ByteToMessageHandler(TransmissionDecoder(maxTransmissionLength: 16 * 1024 * 1024)))
                try sync.addHandler(MessageToByteHandler(TransmissionEncoder()))
                try sync.addHandler(BenchTransmissionHandler(onTransmission: onTransmission))
                return (channel, loggedIn.futureResult)
            }
        }
        try await channel.1.get()
        return channel.0
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
