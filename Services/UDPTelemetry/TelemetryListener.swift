#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// The UDP side of udp-telemetry: one socket per event loop on `UDPServer.Addr:Port`, each with
/// its own ``TelemetryDatagramHandler``.
///
/// With several loops the sockets share the port through `SO_REUSEPORT`; the kernel hashes
/// each sender's address to one socket, so one device's datagrams stay on one loop, in order.
/// (The same option lets several instances on one host share the port.) Each socket reads up
/// to `datagramsPerSyscall` datagrams per `recvmmsg` into slots one byte larger than
/// `DatagramMaxSize`, so an oversize datagram shows up as such instead of being cut to size.
///
/// Ready once every socket is bound. Shutdown closes the sockets (reading stops); whatever was
/// accepted or still waits for a lookup is left to the resolver and the appender, which stop
/// after it.
final class TelemetryListener: Service, Sendable {
    private let loops: [any EventLoop]
    private let settings: TelemetrySettings
    private let appender: TelemetryAppender
    private let resolver: TelemetryTokenResolver
    private let metrics: TelemetryMetrics
    private let logger: Logger
    private let listening = Atomic<Bool>(false)

    init(
        loops: [any EventLoop], settings: TelemetrySettings, appender: TelemetryAppender, resolver: TelemetryTokenResolver,
        metrics: TelemetryMetrics, logger: Logger
    ) {
        self.loops = loops
        self.settings = settings
        self.appender = appender
        self.resolver = resolver
        self.metrics = metrics
        self.logger = logger
    }

    /// Whether every socket is bound and reading (the readiness check).
    var isListening: Bool { self.listening.load(ordering: .relaxed) }

    func run() async throws {
        let channels = try await self.bindAll()
        self.listening.store(true, ordering: .relaxed)
        let closedByItself = await withTaskCancellationOrGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group -> Bool in
                for channel in channels {
                    group.addTask { try? await channel.closeFuture.get() }
                }
                // The first socket to close, whoever closed it, ends the listener: a service
                // reading on only some of its sockets would silently lose their senders.
                await group.next()
                let unexpected = !(Task.isShuttingDownGracefully || Task.isCancelled)
                for channel in channels {
                    channel.close(promise: nil)
                }
                return unexpected
            }
        } onCancelOrGracefulShutdown: {
            for channel in channels {
                channel.close(promise: nil)
            }
        }
        self.listening.store(false, ordering: .relaxed)
        if closedByItself {
            throw TelemetryListenerError.closedUnexpectedly(address: self.settings.address, port: self.settings.port)
        }
        self.logger.info("telemetry listener stopped")
    }

    /// Binds one socket per loop, all on the same port (the first socket's, if port 0 was asked).
    private func bindAll() async throws(TelemetryListenerError) -> [any Channel] {
        var channels: [any Channel] = []
        var port = self.settings.port
        for loop in self.loops {
            do {
                let channel = try await self.bootstrap(on: loop).bind(host: self.settings.address, port: port).get()
                channels.append(channel)
                if port == 0 {
                    port = channel.localAddress?.port ?? 0
                }
            } catch {
                for channel in channels {
                    try? await channel.close()
                }
                throw .bindFailed(address: self.settings.address, port: port, reason: "\(error)")
            }
        }
        let receiveBuffer = try? await channels.first?.getOption(.socketOption(.so_rcvbuf)).get()
        self.logger.info(
            "listening for telemetry",
            metadata: [
                "address": "\(self.settings.address):\(port)", "sockets": "\(channels.count)",
                "receiveBufferBytes": "\(receiveBuffer.map { String($0) } ?? "?")",
                "datagramMaxSize": "\(self.settings.datagramMaxSize)",
            ])
        return channels
    }

    private func bootstrap(on loop: any EventLoop) -> DatagramBootstrap {
        let settings = self.settings
        let outbox = self.appender.outbox(for: loop)
        let resolver = self.resolver
        let metrics = self.metrics
        // One slot per datagram of a recvmmsg call, one byte larger than the largest datagram
        // accepted so that a larger one is seen (truncated) and counted as oversize.
        let slot = settings.datagramMaxSize + 1
        var bootstrap = DatagramBootstrap(group: loop)
            .channelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(settings.receiveBufferBytes))
            .channelOption(.datagramVectorReadMessageCount, value: settings.datagramsPerSyscall)
            .channelOption(.maxMessagesPerRead, value: UInt(settings.syscallsPerRead))
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: slot * settings.datagramsPerSyscall))
        if self.loops.count > 1 {
            bootstrap = bootstrap.channelOption(.socketOption(NIOBSDSocket.Option(rawValue: SO_REUSEPORT)), value: 1)
        }
        return bootstrap.channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                let handler = TelemetryDatagramHandler(settings: settings, outbox: outbox, resolver: resolver, metrics: metrics)
                try channel.pipeline.syncOperations.addHandler(handler)
            }
        }
    }
}
