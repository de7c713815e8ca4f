import IoTSocket
import NIOCore
import NIOPosix
import NIOSSL

/// An IoTSocket element (a device, or the central with ``UID/central``) for tests: connects,
/// performs the whole set-up, then sends and receives transmissions.
///
/// ```swift
/// let device = try await TestElement.connect(host: "127.0.0.1", port: stack.tcpPort, uid: uid, key: key)
/// try await device.send(.ping)
/// #expect(try await device.receive() == .pong)
/// ```
/// Refusals throw ``TestElementError``: ``TestElementError/initiationRefused(_:)`` (with the
/// concentrator's response, e.g. a redirect) or ``TestElementError/validationRefused``.
/// Always ``close()`` it (also safe after the server closed).
public final class TestElement: Sendable {
    /// The concentrator's answer to the initiation (OK, or the rule it gave).
    public let initiationResponse: InitiationResponse
    /// The challenge the concentrator sent.
    public let challenge: Challenge
    private let channel: any Channel
    private let handler: NIOLoopBound<TestElementHandler>

    private init(channel: any Channel, handler: NIOLoopBound<TestElementHandler>, response: InitiationResponse, challenge: Challenge) {
        self.channel = channel
        self.handler = handler
        self.initiationResponse = response
        self.challenge = challenge
    }

    /// Connects and logs in.
    ///
    /// - Parameters:
    ///   - tls: set the TLS bit and start TLS after the response (the server's certificate is
    ///     not verified, so a self-signed one works).
    ///   - maxTransmissionLength: the initiation's stated maximum (0 = not stated).
    ///   - version: the initiation's version (to test refusals).
    ///   - timeout: the limit of each step.
    /// - Throws: ``TestElementError`` on refusal, timeout or close; connection errors as NIO
    ///   throws them.
    public static func connect(
        host: String,
        port: Int,
        uid: UID,
        key: AuthKey,
        tls: Bool = false,
        maxTransmissionLength: UInt16 = 0,
        version: UInt8 = Initiation.currentVersion,
        timeout: Duration = .seconds(5)
    ) async throws -> TestElement {
        let (channel, handler) = try await self.open(host: host, port: port)
        do {
            var initiation = ByteBuffer()
            Initiation(tls: tls, version: version, maxTransmissionLength: maxTransmissionLength).write(to: &initiation)
            try await channel.writeAndFlush(initiation)
            let response = try await self.read("initiation response", channel: channel, handler: handler, timeout: timeout) {
                (buffer: inout ByteBuffer) throws(IoTSocketError) in try InitiationResponse.read(from: &buffer)
            }
            guard response.ok, response.rule == .none else {
                throw TestElementError.initiationRefused(response)
            }
            if tls {
                try await channel.eventLoop.submit {
                    let configuration = {
                        var configuration = TLSConfiguration.makeClientConfiguration()
                        configuration.certificateVerification = .none
                        return configuration
                    }()
                    let context = try NIOSSLContext(configuration: configuration)
                    try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: nil), position: .first)
                }.get()
            }
            let challenge = try await self.read("challenge", channel: channel, handler: handler, timeout: timeout) {
                (buffer: inout ByteBuffer) throws(IoTSocketError) in Challenge.read(from: &buffer)
            }
            var answer = ByteBuffer()
            ChallengeAnswer(uid: uid, key: key, challenge: challenge).write(to: &answer)
            try await channel.writeAndFlush(answer)
            let validation = try await self.read("validation", channel: channel, handler: handler, timeout: timeout) {
                (buffer: inout ByteBuffer) throws(IoTSocketError) in try Validation.read(from: &buffer)
            }
            guard validation == .accepted else { throw TestElementError.validationRefused }
            return TestElement(channel: channel, handler: handler, response: response, challenge: challenge)
        } catch {
            try? await channel.close()
            throw error
        }
    }

    /// Connects without any set-up, for tests that speak the set-up by hand (stalling peers,
    /// malformed initiations): use ``RawConnection``'s methods.
    public static func connectRaw(host: String, port: Int) async throws -> RawConnection {
        let (channel, handler) = try await self.open(host: host, port: port)
        return RawConnection(channel: channel, handler: handler)
    }

    /// Sends one transmission.
    public func send(_ transmission: Transmission) async throws {
        var buffer = ByteBuffer()
        transmission.write(to: &buffer)
        try await self.channel.writeAndFlush(buffer)
    }

    /// Sends bytes exactly as given (malformed frames, partial headers).
    public func sendRaw(_ bytes: [UInt8]) async throws {
        try await self.channel.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    /// The next transmission from the concentrator.
    /// - Throws: ``TestElementError/timeout(waitingFor:)``,
    ///   ``TestElementError/closedByServer(leftoverBytes:)`` when the server closed first, or
    ///   ``TestElementError/malformed(_:)``.
    public func receive(timeout: Duration = .seconds(5)) async throws -> Transmission {
        try await Self.read("a transmission", channel: self.channel, handler: self.handler, timeout: timeout) {
            (buffer: inout ByteBuffer) throws(IoTSocketError) in try Transmission.read(from: &buffer)
        }
    }

    /// Waits until the server closes the connection; true if it did within `timeout`.
    /// Transmissions still unread are kept.
    public func waitForClose(timeout: Duration = .seconds(5)) async -> Bool {
        await Self.waitForClose(self.channel, timeout: timeout)
    }

    /// Whether the connection is still open.
    public var isOpen: Bool { self.channel.isActive }

    /// Stops reading from the socket (a peer that hangs without closing): what the server sends
    /// piles up in the kernel's buffers (shrunk to a few KiB), then in the server.
    public func stopReading() async throws {
        try await self.channel.setOption(.socketOption(.so_rcvbuf), value: 4096).get()
        try await self.channel.setOption(.autoRead, value: false).get()
    }

    /// Disconnects abruptly (no Close transmission).
    public func close() async {
        try? await self.channel.close()
    }

    /// Sends Close with `code`, then disconnects.
    public func close(code: CloseCode) async {
        try? await self.send(.close(code))
        try? await self.channel.close()
    }

    // MARK: Shared with RawConnection

    fileprivate static func open(host: String, port: Int) async throws -> (any Channel, NIOLoopBound<TestElementHandler>) {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(TestElementHandler())
                }
            }
            .connect(host: host, port: port)
            .get()
        let handler = try await channel.eventLoop.submit {
            NIOLoopBound(try channel.pipeline.syncOperations.handler(type: TestElementHandler.self), eventLoop: channel.eventLoop)
        }.get()
        return (channel, handler)
    }

    fileprivate static func read<Value: Sendable>(
        _ what: String,
        channel: any Channel,
        handler: NIOLoopBound<TestElementHandler>,
        timeout: Duration,
        decode: @escaping @Sendable (inout ByteBuffer) throws(IoTSocketError) -> Value?
    ) async throws -> Value {
        try await channel.eventLoop.flatSubmit {
            handler.value.read(what, timeout: TimeAmount(timeout), eventLoop: channel.eventLoop, decode: decode)
        }.get()
    }

    fileprivate static func waitForClose(_ channel: any Channel, timeout: Duration) async -> Bool {
        let loop = channel.eventLoop
        let result = loop.makePromise(of: Bool.self)
        let timer = loop.scheduleTask(in: TimeAmount(timeout)) { result.succeed(false) }
        channel.closeFuture.whenComplete { _ in
            timer.cancel()
            result.succeed(true)
        }
        return (try? await result.futureResult.get()) ?? false
    }
}

extension TestElement {
    /// A TCP connection to the concentrator with no set-up performed: for tests of the set-up
    /// itself (unknown versions, stalls, hand-made answers).
    public final class RawConnection: Sendable {
        private let channel: any Channel
        private let handler: NIOLoopBound<TestElementHandler>

        fileprivate init(channel: any Channel, handler: NIOLoopBound<TestElementHandler>) {
            self.channel = channel
            self.handler = handler
        }

        /// Sends bytes exactly as given.
        public func send(_ bytes: [UInt8]) async throws {
            try await self.channel.writeAndFlush(ByteBuffer(bytes: bytes))
        }

        /// Reads exactly `count` bytes.
        public func receive(count: Int, timeout: Duration = .seconds(5)) async throws -> [UInt8] {
            try await TestElement.read("\(count) bytes", channel: self.channel, handler: self.handler, timeout: timeout) {
                (buffer: inout ByteBuffer) throws(IoTSocketError) in buffer.readBytes(length: count)
            }
        }

        /// Reads an initiation response.
        public func receiveInitiationResponse(timeout: Duration = .seconds(5)) async throws -> InitiationResponse {
            try await TestElement.read("initiation response", channel: self.channel, handler: self.handler, timeout: timeout) {
                (buffer: inout ByteBuffer) throws(IoTSocketError) in try InitiationResponse.read(from: &buffer)
            }
        }

        /// Waits until the server closes the connection; true if it did within `timeout`.
        public func waitForClose(timeout: Duration = .seconds(5)) async -> Bool {
            await TestElement.waitForClose(self.channel, timeout: timeout)
        }

        /// Shuts down the sending side only (`shutdown(SHUT_WR)`): the server reads end of
        /// input, and what it still sends can be read.
        public func closeOutput() async throws {
            try await self.channel.close(mode: .output)
        }

        /// Disconnects abruptly.
        public func close() async {
            try? await self.channel.close()
        }
    }
}
