#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import IoTSocket
import Logging
import Messaging
import NIOCore
import RedisBus

/// One logged-in session: checks what the element may send, answers Ping itself, publishes
/// every other transmission to the router (in order, with its exact bytes), writes what the
/// router addresses to it, pings it when idle, and reports how the session ended.
///
/// Splits the byte stream into frames itself with a ``FrameDecoder`` (rather than behind a
/// `ByteToMessageHandler`: one handler and one pipeline context less per session, which is a
/// tenth of an idle session's memory). All state is confined to the connection's event loop.
final class SessionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum State {
        case open
        /// A Close was sent or received: nothing more is read or published.
        case closing
        case closed
    }

    private let environment: GatewayEnvironment
    private let shard: ConnectionRegistry.Shard
    private let outbox: StreamPublisher.Outbox
    private let address: RouterMessage.ConnectionAddress
    /// The element's stated maximum transmission length; longer router frames are dropped.
    private let statedMaxTransmissionLength: Int?
    private let remoteAddress: String
    /// The fingerprint of the ACL key the login was checked against (nil for the central):
    /// sent with the session-opened event, then dropped.
    private var aclKeyFingerprint: String?
    private var state = State.open
    /// The Close code the peer sent or the gateway sent; nil while none was.
    private var closeCode: CloseCode?
    private var lastInbound = NIODeadline.now()
    private var pingSentAt: NIODeadline?
    private var flushPending = false
    private let decoder: FrameDecoder
    /// The start of a transmission whose end has not arrived yet (copied out of the read
    /// buffer, so NIO can reuse that for the next read).
    private var partial: ByteBuffer?
    /// Frames the router sent while the connection was closing: handed back to it after the
    /// session-closed event, to be held for the kept session rather than lost.
    private var returned: [[UInt8]] = []
    /// The most frames ``returned`` keeps (the router holds as many per element).
    private static let returnedLimit = 1000

    init(
        environment: GatewayEnvironment,
        shard: ConnectionRegistry.Shard,
        outbox: StreamPublisher.Outbox,
        address: RouterMessage.ConnectionAddress,
        statedMaxTransmissionLength: Int?,
        remoteAddress: String,
        aclKeyFingerprint: String?,
        maxTransmissionLength: Int
    ) {
        self.decoder = FrameDecoder(maxTransmissionLength: maxTransmissionLength)
        self.environment = environment
        self.shard = shard
        self.outbox = outbox
        self.address = address
        self.statedMaxTransmissionLength = statedMaxTransmissionLength
        self.remoteAddress = remoteAddress
        self.aclKeyFingerprint = aclKeyFingerprint
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.publish(
            .sessionOpened(
                .init(
                    address: self.address, maxTransmissionLength: self.statedMaxTransmissionLength, remoteAddress: self.remoteAddress,
                    aclKeyFingerprint: self.aclKeyFingerprint)))
        self.aclKeyFingerprint = nil
        self.environment.logger.info(
            "session opened",
            metadata: ["uid": "\(self.address.uid)", "conn": "\(self.address.connection)", "remote": "\(self.remoteAddress)"])
        self.lastInbound = .now()
        self.armTimer(at: self.lastInbound + self.environment.idleTimeout, context: context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .open = self.state else { return }
        var buffer = self.unwrapInboundIn(data)
        if var partial = self.partial {
            self.partial = nil
            partial.writeBuffer(&buffer)
            buffer = partial
        }
        do {
            while case .open = self.state, let frame = try self.decoder.decode(buffer: &buffer) {
                self.handle(frame, context: context)
            }
        } catch {
            if case .transmissionTooLong = error {
                self.protocolError(.oversize, detail: "\(error)", context: context)
            } else {
                self.protocolError(.malformed, detail: "\(error)", context: context)
            }
            return
        }
        if case .open = self.state, buffer.readableBytes > 0 {
            var rest = context.channel.allocator.buffer(capacity: buffer.readableBytes)
            rest.writeBuffer(&buffer)
            self.partial = rest
        }
    }

    private func handle(_ frame: InboundFrame, context: ChannelHandlerContext) {
        self.lastInbound = .now()
        self.pingSentAt = nil
        self.environment.metrics.framesIn.increment()
        switch frame.transmission {
        case .ping:
            self.write(.pong, context: context)
            self.flushPending = true
        case .pong:
            break
        case .close(let code):
            self.state = .closing
            self.closeCode = code
            context.close(promise: nil)
        case .acl, .request, .response, .telemetryToken, .identifiedTelemetry:
            guard self.mayForward(frame.transmission) else {
                self.protocolError(.role, detail: "\(frame.transmission.type) not allowed from \(self.roleName)", context: context)
                return
            }
            self.environment.logger.debug(
                "frame in",
                metadata: ["uid": "\(self.address.uid)", "conn": "\(self.address.connection)", "type": "\(frame.transmission.type)"])
            let message = RouterMessage.transmission(self.address, frame: Array(frame.wireBytes.readableBytesView))
            if case .request(let uid, let tracking, _) = frame.transmission {
                self.publish(message, dropped: self.answerUndelivered(uid: uid, tracking: tracking))
            } else {
                self.publish(message)
            }
        }
    }

    /// What answers a request the router never got (Redis unreachable past the publisher's
    /// retries, or its queue full): 0xA0, "could never be delivered", with the UID it named, so
    /// the requester still gets exactly one answer. (A lost response needs nothing: the router's
    /// deadline answers its request 0xA1.)
    private func answerUndelivered(uid: UID?, tracking: UInt16) -> @Sendable () -> Void {
        let registry = self.environment.registry
        let metrics = self.environment.metrics
        let connection = self.address.connection
        return {
            metrics.requestsAnsweredUndelivered.increment()
            var bytes = ByteBuffer()
            Transmission.response(uid: uid, tracking: tracking, code: .destinationNotFound, payload: .empty).write(to: &bytes)
            registry.deliver([.write(connection: connection, frame: Array(bytes.readableBytesView))])
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if self.flushPending {
            self.flushPending = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let order = event as? ConnectionOrder else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        switch order {
        case .write(let frame):
            guard case .open = self.state else {
                self.returnToRouter(frame)
                return
            }
            if let maximum = self.statedMaxTransmissionLength, frame.count > maximum {
                self.environment.metrics.droppedOversize.increment()
                self.environment.logger.debug(
                    "frame longer than the element accepts dropped",
                    metadata: ["uid": "\(self.address.uid)", "conn": "\(self.address.connection)", "length": "\(frame.count)", "max": "\(maximum)"])
                return
            }
            if !context.channel.isWritable, self.backlogExceeded(adding: frame.count, context: context) {
                self.returnToRouter(frame)
                return
            }
            var bytes = context.channel.allocator.buffer(capacity: frame.count)
            bytes.writeBytes(frame)
            self.environment.metrics.framesOut.increment()
            context.write(self.wrapOutboundOut(bytes), promise: nil)
        case .close(let code):
            // The router ends sessions that left the ACL, or that logged in with a key it no
            // longer holds: the next login of this element reads the ACL in Redis.
            self.environment.authenticator.cache.evict(self.address.uid)
            self.sendCloseThenDisconnect(code, context: context)
        case .drain:
            self.sendCloseThenDisconnect(.freeingResources, context: context)
        case .deadlineReached:
            self.timerFired(context: context)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard case .open = self.state else { return }
        self.environment.logger.debug(
            "connection error", metadata: ["uid": "\(self.address.uid)", "conn": "\(self.address.connection)", "error": "\(error)"])
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.state = .closed
        self.shard.remove(self.address.connection, session: self.address)
        // Queued after every transmission of this connection: the router sees them first.
        self.publish(.sessionClosed(.init(address: self.address, code: self.closeCode)))
        for frame in self.returned {
            self.publish(.returned(self.address, frame: frame))
        }
        self.returned = []
        self.environment.logger.info(
            "session closed",
            metadata: [
                "uid": "\(self.address.uid)", "conn": "\(self.address.connection)",
                "code": "\(self.closeCode.map { "\($0)" } ?? "none (connection lost)")",
            ])
        context.fireChannelInactive()
    }

    /// A peer that stops reading while frames keep coming for it would make the gateway buffer
    /// without limit. Past ``GatewayEnvironment/maxQueuedBytes(central:)`` waiting in the
    /// gateway (beyond what the kernel holds), the connection is reset without a Close (it
    /// could not be read anyway), so the session is kept: the router holds what comes next and
    /// replays it when the element is back; requests lost with the connection get 0xA1 at
    /// their deadline, like on any lost connection.
    /// - Returns: true when the connection was dropped (the frame is not written).
    private func backlogExceeded(adding count: Int, context: ChannelHandlerContext) -> Bool {
        let queued = (try? context.channel.syncOptions?.getOption(ChannelOptions.bufferedWritableBytes)) ?? 0
        let limit = self.environment.maxQueuedBytes(central: self.address.uid.isCentral)
        guard queued + count > limit else { return false }
        self.environment.metrics.slowConsumerCloses.increment()
        self.environment.logger.warning(
            "peer does not read: connection dropped, session kept",
            metadata: [
                "uid": "\(self.address.uid)", "conn": "\(self.address.connection)", "queuedBytes": "\(queued)", "limit": "\(limit)",
            ])
        self.state = .closing
        // Abortive close (RST): a plain one would leave the FIN queued behind megabytes the peer
        // never reads, holding the socket and its kernel buffers open.
        if let socket = context.channel as? any SocketOptionProvider {
            socket.setSoLinger(linger(l_onoff: 1, l_linger: 0)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        } else {
            context.close(promise: nil)
        }
        return true
    }

    // MARK: Rules

    private var roleName: String { self.address.uid.isCentral ? "the central" : "an object" }

    /// PROTOCOL.md roles: an object sends Requests and Responses without a UID; the central also
    /// sends ACLs, and Requests and Responses with or without a UID (the router decides).
    /// Tokens and identified telemetry only ever go toward elements.
    private func mayForward(_ transmission: Transmission) -> Bool {
        switch transmission {
        case .request(let uid, _, _), .response(let uid, _, _, _):
            return self.address.uid.isCentral || uid == nil
        case .acl:
            return self.address.uid.isCentral
        case .telemetryToken, .identifiedTelemetry, .ping, .pong, .close:
            return false
        }
    }

    private func protocolError(_ kind: GatewayMetrics.ProtocolErrorKind, detail: String, context: ChannelHandlerContext) {
        self.environment.metrics.protocolError(kind)
        self.environment.logger.info(
            "protocol error",
            metadata: ["uid": "\(self.address.uid)", "conn": "\(self.address.connection)", "reason": "\(kind.rawValue)", "detail": "\(detail)"])
        self.sendCloseThenDisconnect(.protocolError, context: context)
    }

    // MARK: Output

    private func sendCloseThenDisconnect(_ code: CloseCode, context: ChannelHandlerContext) {
        guard case .open = self.state else { return }
        self.state = .closing
        self.closeCode = code
        var bytes = context.channel.allocator.buffer(capacity: 2)
        Transmission.close(code).write(to: &bytes)
        self.environment.metrics.framesOut.increment()
        context.writeAndFlush(self.wrapOutboundOut(bytes)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
        // Should the peer never read the Close, do not wait for it forever.
        self.armTimer(at: .now() + self.environment.pongTimeout, context: context)
    }

    private func write(_ transmission: Transmission, context: ChannelHandlerContext) {
        var bytes = context.channel.allocator.buffer(capacity: transmission.wireLength)
        transmission.write(to: &bytes)
        self.environment.metrics.framesOut.increment()
        context.write(self.wrapOutboundOut(bytes), promise: nil)
    }

    /// Keeps a frame that came for this session while it was closing, for ``channelInactive``
    /// to hand back to the router after the close.
    private func returnToRouter(_ frame: [UInt8]) {
        guard case .closing = self.state, self.returned.count < Self.returnedLimit else {
            self.environment.metrics.droppedUnknownConnection.increment()
            return
        }
        self.environment.metrics.framesReturned.increment()
        self.returned.append(frame)
    }

    private func publish(_ message: RouterMessage, dropped: (@Sendable () -> Void)? = nil) {
        self.outbox.append(
            StreamAppend(stream: self.environment.keys.routerStream, fields: message.fields, maxLength: self.environment.streamMaxLength),
            dropped: dropped)
    }

    // MARK: Liveness

    /// One deadline per session, re-armed lazily: reads only note the time, the deadline
    /// checks it (see ``ConnectionRegistry/Shard/setDeadline(_:for:)``).
    private func armTimer(at deadline: NIODeadline, context: ChannelHandlerContext) {
        self.shard.setDeadline(deadline, for: self.address.connection)
    }

    private func timerFired(context: ChannelHandlerContext) {
        switch self.state {
        case .closed:
            return
        case .closing:
            context.close(promise: nil)
            return
        case .open:
            break
        }
        let now = NIODeadline.now()
        if let pingSentAt = self.pingSentAt {
            let pongDeadline = pingSentAt + self.environment.pongTimeout
            guard now >= pongDeadline else {
                return self.armTimer(at: pongDeadline, context: context)
            }
            // Silent after a Ping: the peer is gone. No Close, so the session is kept.
            self.environment.metrics.pingTimeouts.increment()
            self.environment.logger.info(
                "no answer to ping, closing", metadata: ["uid": "\(self.address.uid)", "conn": "\(self.address.connection)"])
            self.state = .closing
            context.close(promise: nil)
            return
        }
        let idleDeadline = self.lastInbound + self.environment.idleTimeout
        guard now >= idleDeadline else {
            return self.armTimer(at: idleDeadline, context: context)
        }
        self.pingSentAt = now
        self.environment.metrics.pingsSent.increment()
        self.write(.ping, context: context)
        context.flush()
        self.armTimer(at: now + self.environment.pongTimeout, context: context)
    }
}
