import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// The TCP listener: accepts connections, gives each a ``HandshakeHandler``, and drains on
/// graceful shutdown.
///
/// Draining (SIGTERM): new initiations are answered with the redirect rule (or refused), every
/// session is sent Close 0xA1 (its session is kept) and closed, connections still waiting for
/// their initiation get a second to send it (and be redirected), those further in set-up are
/// closed, then the listener closes. Their session-closed events are queued by then; the
/// ``StreamPublisher``, which the service group stops after this service, sends them.
struct GatewayServer: Service {
    let environment: GatewayEnvironment
    let group: MultiThreadedEventLoopGroup
    /// How long draining waits for sessions to close after their Close 0xA1.
    var drainTimeout: TimeAmount = .seconds(5)

    func run() async throws {
        let environment = self.environment
        let configuration = environment.server
        let bootstrap = ServerBootstrap(group: self.group)
            .serverChannelOption(.backlog, value: Int32(configuration.backlog))
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            // Writability flips past 256 KiB waiting in the gateway: only then does a write
            // check how much is queued (SessionHandler drops connections whose peer stopped
            // reading).
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 64 << 10, high: 256 << 10))
            // Devices mostly send a few bytes at a time, and NIO keeps each channel's last read
            // buffer for reuse: start reads at 64 bytes and let NIO grow them for the peers (the
            // central) that send more, so idle sessions stay light.
            .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 64, maximum: 65_536))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = HandshakeHandler(
                        environment: environment,
                        shard: environment.registry.shards.shard(for: channel.eventLoop),
                        outbox: environment.publisher.outbox(for: channel.eventLoop))
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
        let listener = try await bootstrap.bind(host: configuration.address, port: configuration.port).get()
        environment.registry.setListening(true)
        environment.logger.info(
            "listening",
            metadata: [
                "address": "\(configuration.address):\(listener.localAddress?.port ?? configuration.port)",
                "tls": "\(environment.tlsContext != nil)", "slots": "\(configuration.slotsCount)",
            ])
        do {
            try await gracefulShutdown()
        } catch {
            // Cancelled: the process is going down hard; drop everything at once.
            environment.registry.setListening(false)
            listener.close(promise: nil)
            return
        }
        await self.drain(listener: listener)
    }

    private func drain(listener: any Channel) async {
        let registry = self.environment.registry
        registry.startDraining()
        self.environment.logger.info("draining: closing sessions with 0xA1")
        let closed = await registry.closeAll(with: .drain, timeout: self.drainTimeout)
        registry.setListening(false)
        try? await listener.close()
        // Connections accepted while the first pass ran.
        let stragglersClosed = await registry.closeAll(with: .drain, timeout: self.drainTimeout)
        if closed && stragglersClosed {
            self.environment.logger.info("drained")
        } else {
            self.environment.logger.warning("drain timed out: some connections did not close in time")
        }
    }
}
