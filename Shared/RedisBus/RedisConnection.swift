import Logging
import NIOCore
import NIOPosix

/// One TCP connection to Redis on one NIO channel: non-blocking, pipelined, replies matched
/// to commands in order.
///
/// Commands are formatted by hiredis and written without waiting for earlier replies; a
/// batch (``pipeline(_:)``) costs one promise and one flush. A blocking command
/// (`XREADGROUP … BLOCK`) holds up everything behind it, so give blocking readers their own
/// connection (``RedisClient/makeBlockingConnection()``). Connections do not reconnect:
/// ``RedisClient`` does that.
public final class RedisConnection: RedisCommandExecutor {
    /// How a connection is opened and how long replies may take.
    public struct Configuration: Sendable {
        /// Time allowed for the TCP connect (AUTH and SELECT fall under ``commandTimeout``).
        public var connectTimeout: Duration
        /// Time allowed for each reply unless a command says otherwise; `nil` waits as long as
        /// the connection lives. When it passes, the connection is closed (replies behind a
        /// lost one cannot be matched any more).
        public var commandTimeout: Duration?

        /// - Parameters:
        ///   - connectTimeout: TCP connect time limit, 5 s by default.
        ///   - commandTimeout: Per-reply time limit, 30 s by default.
        public init(connectTimeout: Duration = .seconds(5), commandTimeout: Duration? = .seconds(30)) {
            self.connectTimeout = connectTimeout
            self.commandTimeout = commandTimeout
        }
    }

    /// The server this connection talks to.
    public let url: RedisURL
    /// The time limits in force.
    public let configuration: Configuration
    let channel: any Channel

    private init(url: RedisURL, configuration: Configuration, channel: any Channel) {
        self.url = url
        self.configuration = configuration
        self.channel = channel
    }

    deinit {
        // Nobody can send on a connection nobody holds: do not leave its socket open.
        if self.channel.isActive {
            self.channel.close(promise: nil)
        }
    }

    /// Opens a connection, then authenticates (`AUTH`) and selects the database (`SELECT`)
    /// named in `url`.
    ///
    /// - Throws: ``RedisError/connectionRefused(address:reason:)`` when the server cannot be
    ///   reached, ``RedisError/server(message:command:)`` when `AUTH` or `SELECT` is refused.
    public static func connect(
        to url: RedisURL,
        configuration: Configuration = Configuration(),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> RedisConnection {
        try await self.makeConnection(to: url, configuration: configuration, on: eventLoopGroup.next()).get()
    }

    /// The event loop the connection's channel runs on.
    public var eventLoop: any EventLoop { self.channel.eventLoop }

    /// Whether the channel is still open. A closed connection fails every command.
    public var isActive: Bool { self.channel.isActive }

    /// Completes when the connection has closed, for whatever reason.
    public var closeFuture: EventLoopFuture<Void> { self.channel.closeFuture }

    @discardableResult
    public func send(_ command: [RedisArgument], timeout: Duration? = nil) async throws -> RedisValue {
        var buffer = self.channel.allocator.buffer(capacity: 64)
        var encoder = RedisCommandEncoder()
        encoder.encode(command, into: &buffer)
        let replies = try await self.submit(buffer, replyCount: 1, label: command.first?.text ?? "", timeout: timeout).get()
        return try replies[0].throwingServerError(command: command)
    }

    public func pipeline(_ commands: [[RedisArgument]]) async throws -> [RedisValue] {
        guard !commands.isEmpty else { return [] }
        return try await self.submit(commands, label: "PIPELINE(\(commands.count))", timeout: nil).get()
    }

    /// ``RedisCommandExecutor/xackThenReadGroup(_:group:consumer:acknowledging:count:block:)`` as
    /// a future completed on ``eventLoop``, for readers that stay on it.
    func xackThenReadGroupFuture(
        _ stream: String, group: String, consumer: String, acknowledging ids: [String], count: Int, block: Duration
    ) -> EventLoopFuture<[StreamEntry]> {
        let commands = Self.xackThenReadGroupCommands(stream, group: group, consumer: consumer, acknowledging: ids, count: count, block: block)
        return self.submit(commands, label: "XREADGROUP", timeout: block + Self.blockingReplyMargin)
            .flatMapThrowing { replies in
                try Self.entries(of: stream, fromXackThenReadGroup: replies, commands: commands)
            }
    }

    /// The entries of `stream` after `id` (`XREAD … BLOCK`) as a future completed on
    /// ``eventLoop``, for readers that stay on it; none when `block` passed without any.
    func xreadFuture(_ stream: String, after id: String, count: Int, block: Duration) -> EventLoopFuture<[StreamEntry]> {
        let command = Self.xreadCommand(streams: [(stream, id)], count: count, block: block)
        return self.submit([command], label: "XREAD", timeout: block + Self.blockingReplyMargin)
            .flatMapThrowing { replies in
                let batches = try StreamBatch.list(from: try replies[0].throwingServerError(command: command), command: "XREAD")
                return batches.first { $0.stream == stream }?.entries ?? []
            }
    }

    /// Encodes `commands` and writes them as one batch; the future has their replies in order.
    private func submit(_ commands: [[RedisArgument]], label: String, timeout: Duration?) -> EventLoopFuture<[RedisValue]> {
        self.submit(RedisCommandEncoder.encode(commands, allocator: self.channel.allocator), replyCount: commands.count, label: label, timeout: timeout)
    }

    /// Closes the connection; commands still waiting fail with
    /// ``RedisError/connectionClosed(address:)``.
    public func close() async {
        try? await self.channel.close()
    }

    /// Writes already-encoded commands and returns the future of their replies. Any thread.
    func submit(_ buffer: ByteBuffer, replyCount: Int, label: String, timeout: Duration?) -> EventLoopFuture<[RedisValue]> {
        let promise = self.channel.eventLoop.makePromise(of: [RedisValue].self)
        let limit = timeout ?? self.configuration.commandTimeout
        let request = RedisRequest(
            buffer: buffer,
            replyCount: replyCount,
            promise: promise,
            deadline: limit.map { .now() + TimeAmount($0) },
            timeout: limit,
            label: label
        )
        let address = self.url.address
        // The handler fails the promise itself once it has the request; this covers a channel
        // that closed before the request reached it (a second completion is ignored).
        self.channel.writeAndFlush(request).whenFailure { error in
            promise.fail(error as? RedisError ?? .connectionClosed(address: address))
        }
        return promise.futureResult
    }

    /// Connects, then runs `AUTH`/`SELECT` in one batch. The future is on `eventLoop`.
    static func makeConnection(to url: RedisURL, configuration: Configuration, on eventLoop: any EventLoop) -> EventLoopFuture<RedisConnection> {
        let address = url.address
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(TimeAmount(configuration.connectTimeout))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(RedisChannelHandler(address: address))
                }
            }
        let connecting: EventLoopFuture<any Channel>
        if let socketPath = url.socketPath {
            connecting = bootstrap.connect(unixDomainSocketPath: socketPath)
        } else {
            connecting = bootstrap
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .channelOption(.socketOption(.so_keepalive), value: 1)
                .connect(host: url.host, port: url.port)
        }
        return connecting
            .flatMapErrorThrowing { error in
                throw RedisError.connectionRefused(address: address, reason: Self.describe(error))
            }
            .flatMap { channel in
                let connection = RedisConnection(url: url, configuration: configuration, channel: channel)
                return connection.handshake().map { connection }.flatMapError { error in
                    channel.close(promise: nil)
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
    }

    private func handshake() -> EventLoopFuture<Void> {
        var commands: [[RedisArgument]] = []
        if let password = self.url.password {
            if let username = self.url.username {
                commands.append(["AUTH", .string(username), .string(password)])
            } else {
                commands.append(["AUTH", .string(password)])
            }
        }
        if self.url.database != 0 {
            commands.append(["SELECT", .integer(self.url.database)])
        }
        guard !commands.isEmpty else { return self.channel.eventLoop.makeSucceededVoidFuture() }
        let handshakeCommands = commands
        return self.submit(commands, label: "AUTH/SELECT", timeout: nil).flatMapThrowing { replies in
            for (command, reply) in zip(handshakeCommands, replies) {
                _ = try reply.throwingServerError(command: command)
            }
        }
    }

    private static func describe(_ error: any Error) -> String {
        if let channelError = error as? ChannelError, case .connectTimeout(let amount) = channelError {
            return "connect timed out after \(amount)"
        }
        if let connectionError = error as? NIOConnectionError {
            // One line per address tried, without NIO's nested type names.
            let attempts = connectionError.connectionErrors.map { "\($0.target): \(Self.describe($0.error))" }
            if let dnsError = connectionError.dnsAAAAError ?? connectionError.dnsAError, attempts.isEmpty {
                return "cannot resolve \(connectionError.host): \(dnsError)"
            }
            return attempts.isEmpty ? "no address for \(connectionError.host)" : attempts.joined(separator: "; ")
        }
        if let ioError = error as? IOError {
            return ioError.description
        }
        return String(describing: error)
    }
}
