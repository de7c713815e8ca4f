import Logging
import NIOCore
import NIOPosix

/// The Redis client services use: one multiplexed, pipelined connection that reconnects by
/// itself, plus dedicated connections for blocking readers.
///
/// Every command from every task shares one connection, so concurrent callers are pipelined
/// for free. When the connection drops, commands in flight fail with
/// ``RedisError/connectionClosed(address:)`` (they may or may not have run) and the client
/// reconnects in the background with ``ReconnectBackoff``; new commands wait up to
/// ``Configuration-swift.struct/connectionWaitTimeout`` for it.
///
/// Never send a blocking command (`BLOCK`, `BLPOP`…) through the client: it would stall every
/// other caller. Use ``makeBlockingConnection()``, or ``StreamConsumer`` / ``StreamReader``.
public final class RedisClient: RedisCommandExecutor {
    /// Where Redis is and how patient to be with it.
    public struct Configuration: Sendable {
        /// The server, credentials and database.
        public var url: RedisURL
        /// Connect and per-command time limits, also used for blocking connections.
        public var connection: RedisConnection.Configuration
        /// Spacing of reconnect attempts.
        public var reconnect: ReconnectBackoff
        /// How long a command waits for a connection while the client reconnects before failing
        /// with ``RedisError/connectionRefused(address:reason:)``.
        public var connectionWaitTimeout: Duration

        /// - Parameters:
        ///   - url: The server.
        ///   - connection: Time limits; 5 s connect, 30 s per reply by default.
        ///   - reconnect: Backoff between attempts; 50 ms doubling up to 5 s by default.
        ///   - connectionWaitTimeout: How long commands wait for a reconnect, 5 s by default.
        public init(
            url: RedisURL,
            connection: RedisConnection.Configuration = RedisConnection.Configuration(),
            reconnect: ReconnectBackoff = ReconnectBackoff(),
            connectionWaitTimeout: Duration = .seconds(5)
        ) {
            self.url = url
            self.connection = connection
            self.reconnect = reconnect
            self.connectionWaitTimeout = connectionWaitTimeout
        }
    }

    /// The configuration the client was built with.
    public let configuration: Configuration
    /// The group blocking connections are opened on.
    public let eventLoopGroup: any EventLoopGroup
    /// Where the client logs connects, losses and reconnect attempts.
    public let logger: Logger
    /// The loop of the shared connection, where ``pipelineFuture(_:)`` completes.
    public let eventLoop: any EventLoop
    private let allocator = ByteBufferAllocator()
    private let keeper: NIOLoopBoundBox<RedisConnectionKeeper>

    /// Creates a client. No I/O happens until the first command.
    public init(
        configuration: Configuration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "redis")
    ) {
        self.configuration = configuration
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        let eventLoop = eventLoopGroup.next()
        self.eventLoop = eventLoop
        self.keeper = .makeBoxSendingValue(
            RedisConnectionKeeper(
                url: configuration.url,
                configuration: configuration.connection,
                backoff: configuration.reconnect,
                eventLoop: eventLoop,
                logger: logger
            ),
            eventLoop: eventLoop
        )
    }

    deinit {
        // A client dropped without `close()` must not keep a socket or a reconnect cycle alive.
        // (Call `close()` before shutting down a custom event loop group.)
        let keeper = self.keeper
        self.eventLoop.execute {
            _ = keeper.value.close()
        }
    }

    /// Creates a client for a `redis://` URL with default limits.
    ///
    /// - Throws: ``RedisError/invalidURL(url:reason:)``.
    public convenience init(
        url: String,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "redis")
    ) throws {
        self.init(configuration: Configuration(url: try RedisURL(url)), eventLoopGroup: eventLoopGroup, logger: logger)
    }

    /// The server this client talks to.
    public var url: RedisURL { self.configuration.url }

    @discardableResult
    public func send(_ command: [RedisArgument], timeout: Duration? = nil) async throws -> RedisValue {
        var buffer = self.allocator.buffer(capacity: 64)
        var encoder = RedisCommandEncoder()
        encoder.encode(command, into: &buffer)
        let label = command.first?.text ?? ""
        let replies = try await self.submit(buffer, replyCount: 1, label: label, timeout: timeout, wait: self.configuration.connectionWaitTimeout).get()
        return try replies[0].throwingServerError(command: command)
    }

    public func pipeline(_ commands: [[RedisArgument]]) async throws -> [RedisValue] {
        try await self.pipelineFuture(commands).get()
    }

    /// ``pipeline(_:)`` for code that stays on NIO's event loops: no task and no thread hop is
    /// involved, and the future completes on ``eventLoop``. Run the completion there too, and a
    /// loop of commands costs no thread wake-ups beyond the socket's.
    public func pipelineFuture(_ commands: [[RedisArgument]]) -> EventLoopFuture<[RedisValue]> {
        guard !commands.isEmpty else { return self.eventLoop.makeSucceededFuture([]) }
        let buffer = RedisCommandEncoder.encode(commands, allocator: self.allocator)
        return self.submit(
            buffer,
            replyCount: commands.count,
            label: "PIPELINE(\(commands.count))",
            timeout: nil,
            wait: self.configuration.connectionWaitTimeout
        )
    }

    /// Opens a connection of its own for a blocking reader (`XREADGROUP … BLOCK`, `XREAD … BLOCK`).
    ///
    /// The caller owns it: close it when done. It does not reconnect; open another on failure.
    /// - Throws: ``RedisError/connectionRefused(address:reason:)`` or an `AUTH`/`SELECT` refusal.
    /// - Parameter eventLoop: The connection's loop; the next of the client's group by default.
    public func makeBlockingConnection(on eventLoop: (any EventLoop)? = nil) async throws -> RedisConnection {
        try await RedisConnection.makeConnection(
            to: self.url,
            configuration: self.configuration.connection,
            on: eventLoop ?? self.eventLoopGroup.next()
        ).get()
    }

    /// Whether Redis answers `PING` within `timeout` (for readiness probes). Never throws.
    public func isReachable(timeout: Duration = .seconds(1)) async -> Bool {
        var buffer = self.allocator.buffer(capacity: 16)
        var encoder = RedisCommandEncoder()
        encoder.encode(["PING"], into: &buffer)
        guard let replies = try? await self.submit(buffer, replyCount: 1, label: "PING", timeout: timeout, wait: timeout).get() else {
            return false
        }
        return replies.first == .simpleString("PONG")
    }

    /// Closes the connection and stops reconnecting. Commands waiting for a connection fail
    /// with ``RedisError/closed``; later commands too. Blocking connections are not affected.
    public func close() async {
        let keeper = self.keeper
        try? await self.eventLoop.flatSubmit { keeper.value.close() }.get()
    }

    private func submit(_ buffer: ByteBuffer, replyCount: Int, label: String, timeout: Duration?, wait: Duration) -> EventLoopFuture<[RedisValue]> {
        let keeper = self.keeper
        if self.eventLoop.inEventLoop {
            return keeper.value.submit(buffer, replyCount: replyCount, label: label, timeout: timeout, wait: wait)
        }
        return self.eventLoop.flatSubmit {
            keeper.value.submit(buffer, replyCount: replyCount, label: label, timeout: timeout, wait: wait)
        }
    }
}
