import IoTSocket
import Logging
import Messaging
import NIOCore
import NIOSSL
import RedisBus

/// Runs the connection set-up of PROTOCOL.md for one connection: initiation → response →
/// (TLS) → challenge → answer → HMAC check → validation, then installs the
/// ``SessionHandler`` and leaves the pipeline.
///
/// Every step has a deadline (`HandshakeTimeoutSec`): a peer that stalls is closed. While the
/// answer is being checked, reads are held (the handler does not pass `read` on), so a peer
/// cannot make the gateway buffer without limit; bytes that already arrived after the answer
/// (pipelined transmissions) are handed to the session handler, not lost.
final class HandshakeHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum State {
        /// `TCPServer.ProxyProtocol`: the load balancer's header comes first.
        case awaitingProxyHeader
        case awaitingInitiation
        case awaitingAnswer(Initiation, Challenge)
        /// The answer is being checked; `uid` is nil when the answer could not be read.
        case authenticating(Initiation, uid: UID?)
        /// Refused, timed out or told to close: only closing is left.
        case ending
        /// The session handler took over.
        case handedOver
    }

    /// How long a connection still waiting for its initiation when draining begins is given
    /// to send it (and be redirected).
    static let drainGrace = TimeAmount.seconds(1)

    private let environment: GatewayEnvironment
    private let shard: ConnectionRegistry.Shard
    private let outbox: StreamPublisher.Outbox
    private var state: State
    /// Bytes received and not consumed yet.
    private var received: ByteBuffer?
    private var connectionID: String?
    private var remoteIP = "unknown"
    private var remoteAddress = "unknown"
    private var readHeld = false

    init(environment: GatewayEnvironment, shard: ConnectionRegistry.Shard, outbox: StreamPublisher.Outbox) {
        self.state = environment.server.proxyProtocol ? .awaitingProxyHeader : .awaitingInitiation
        self.environment = environment
        self.shard = shard
        self.outbox = outbox
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive {
            self.start(context: context)
        }
    }

    func channelActive(context: ChannelHandlerContext) {
        self.start(context: context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = self.unwrapInboundIn(data)
        switch self.state {
        case .awaitingProxyHeader, .awaitingInitiation, .awaitingAnswer, .authenticating:
            if self.received == nil {
                self.received = bytes
            } else {
                self.received!.writeBuffer(&bytes)
            }
            self.advance(context: context)
        case .ending, .handedOver:
            break
        }
    }

    func read(context: ChannelHandlerContext) {
        switch self.state {
        case .authenticating, .ending:
            self.readHeld = true
        case .awaitingProxyHeader, .awaitingInitiation, .awaitingAnswer, .handedOver:
            context.read()
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let order = event as? ConnectionOrder else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        switch order {
        case .drain:
            switch self.state {
            case .awaitingProxyHeader, .awaitingInitiation:
                // Connected as the gateway began draining: its initiation, due within
                // milliseconds, is answered with the redirect rule (``answer(_:context:)``
                // checks the registry) instead of a bare close, so the device knows where to go.
                // Not waited for longer than the drain's grace.
                self.armDeadline(context: context, atMost: Self.drainGrace)
            case .awaitingAnswer, .authenticating, .ending, .handedOver:
                self.end(context: context)
            }
        case .close:
            // Not a session yet: nothing to keep or tell, just end the set-up.
            self.end(context: context)
        case .deadlineReached:
            self.deadlineMissed(context: context)
        case .write:
            self.environment.metrics.droppedUnknownConnection.increment()
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is NIOSSLError || error is BoringSSLError {
            self.environment.metrics.tlsFailures.increment()
        }
        self.environment.logger.debug(
            "connection set-up failed", metadata: ["conn": "\(self.connectionID ?? "-")", "remote": "\(self.remoteAddress)", "error": "\(error)"])
        self.end(context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if case .handedOver = self.state {
            // The session handler owns the registration now.
        } else if let id = self.connectionID {
            self.state = .ending
            self.shard.remove(id)
        }
        context.fireChannelInactive()
    }

    // MARK: Steps

    private func start(context: ChannelHandlerContext) {
        guard self.connectionID == nil else { return }
        self.connectionID = self.shard.register(context.channel)
        if let peer = context.channel.remoteAddress {
            self.remoteIP = peer.ipAddress ?? "unknown"
            self.remoteAddress = "\(self.remoteIP):\(peer.port ?? 0)"
        }
        self.armDeadline(context: context)
    }

    private func advance(context: ChannelHandlerContext) {
        switch self.state {
        case .awaitingProxyHeader:
            let header: ProxyHeader
            do {
                guard let read = try ProxyHeader.read(from: &self.received!) else { return }
                header = read
            } catch {
                self.refuseProxyHeader(error, context: context)
                return
            }
            if let source = header.source {
                self.remoteIP = source.host
                self.remoteAddress = source.host.contains(":") ? "[\(source.host)]:\(source.port)" : "\(source.host):\(source.port)"
            }
            self.state = .awaitingInitiation
            if self.received!.readableBytes > 0 {
                self.advance(context: context)
            }
        case .awaitingInitiation:
            guard let initiation = Initiation.read(from: &self.received!) else { return }
            self.answer(initiation, context: context)
        case .awaitingAnswer(let initiation, let challenge):
            do {
                guard let answer = try ChallengeAnswer.read(from: &self.received!) else { return }
                self.authenticate(answer, initiation: initiation, challenge: challenge, context: context)
            } catch {
                // A UID that is not a valid name: refused like any other bad answer.
                self.received!.moveReaderIndex(forwardBy: ChallengeAnswer.wireLength)
                self.authenticate(nil, initiation: initiation, challenge: challenge, context: context)
            }
        case .authenticating, .ending, .handedOver:
            break
        }
    }

    /// Without a valid header nothing is answered (the peer is not speaking through the
    /// balancer, or the balancer is misconfigured): the connection is closed and counted.
    private func refuseProxyHeader(_ error: ProxyHeader.Malformed, context: ChannelHandlerContext) {
        self.state = .ending
        self.environment.metrics.loginRefused(.proxyHeader)
        self.environment.logger.warning(
            "connection refused: TCPServer.ProxyProtocol is on and it did not open with a PROXY header",
            metadata: ["conn": "\(self.connectionID ?? "-")", "remote": "\(self.remoteAddress)", "problem": "\(error)"])
        context.close(promise: nil)
    }

    private func answer(_ initiation: Initiation, context: ChannelHandlerContext) {
        guard let id = self.connectionID else { return }
        var refusal: LoginRefusal?
        var response = InitiationResponse.accepted
        if initiation.version != Initiation.currentVersion {
            (refusal, response) = (.unknownVersion, .refused)
        } else if initiation.tls && self.environment.tlsContext == nil {
            (refusal, response) = (.tlsUnavailable, .refused)
        } else if self.environment.registry.isDraining {
            (refusal, response) = (.draining, self.environment.elsewhereResponse)
        } else if !self.shard.reserveSlot(for: id) {
            (refusal, response) = (.full, self.environment.elsewhereResponse)
        }
        var bytes = context.channel.allocator.buffer(capacity: response.wireLength)
        response.write(to: &bytes)
        if let refusal {
            self.environment.metrics.loginRefused(refusal)
            self.environment.logger.debug(
                "initiation refused",
                metadata: ["conn": "\(id)", "remote": "\(self.remoteAddress)", "reason": "\(refusal.detail)", "version": "\(initiation.version)"])
            self.state = .ending
            self.writeThenClose(bytes, context: context)
            return
        }
        if initiation.tls, let tlsContext = self.environment.tlsContext {
            // Flushed before TLS starts: the response itself is always in clear.
            context.writeAndFlush(self.wrapOutboundOut(bytes), promise: nil)
            do {
                try context.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tlsContext), position: .first)
            } catch {
                self.errorCaught(context: context, error: error)
                return
            }
        } else {
            // Plain: the response leaves with the challenge, one segment and one read for the
            // client instead of two.
            context.write(self.wrapOutboundOut(bytes), promise: nil)
        }
        let challenge = Challenge.random()
        self.state = .awaitingAnswer(initiation, challenge)
        self.armDeadline(context: context)
        var challengeBytes = context.channel.allocator.buffer(capacity: Challenge.byteCount)
        challenge.write(to: &challengeBytes)
        context.writeAndFlush(self.wrapOutboundOut(challengeBytes), promise: nil)

        guard let pipelined = self.received, pipelined.readableBytes > 0 else { return }
        if initiation.tls {
            // Bytes after the initiation are the client's first TLS records: they belong to the
            // TLS handler, which sits before this one, so they re-enter at the pipeline's head.
            self.received = nil
            context.pipeline.syncOperations.fireChannelRead(NIOAny(pipelined))
        } else {
            self.advance(context: context)
        }
    }

    private func authenticate(_ answer: ChallengeAnswer?, initiation: Initiation, challenge: Challenge, context: ChannelHandlerContext) {
        self.state = .authenticating(initiation, uid: answer?.uid)
        self.armDeadline(context: context)
        let verdict = self.environment.authenticator.verify(answer, challenge: challenge, remoteIP: self.remoteIP, on: context.eventLoop)
        verdict.assumeIsolated().whenSuccess { verdict in
            self.conclude(verdict, context: context)
        }
    }

    private func conclude(_ verdict: Authenticator.Verdict, context: ChannelHandlerContext) {
        // The connection may have closed, timed out or been drained meanwhile.
        guard case .authenticating(let initiation, let uid) = self.state, let id = self.connectionID else { return }
        switch verdict {
        case .accepted(let aclKey):
            // `uid` is only nil for an unreadable answer, which is never accepted.
            guard let uid else { return self.end(context: context) }
            self.handOver(uid: uid, initiation: initiation, aclKey: aclKey, connectionID: id, context: context)
        case .refused(let reason, let delay):
            self.state = .ending
            self.environment.metrics.loginRefused(reason)
            self.environment.logger.info(
                "login refused",
                metadata: ["uid": "\(uid?.description ?? "?")", "conn": "\(id)", "remote": "\(self.remoteAddress)", "reason": "\(reason.detail)"])
            let event = LifecycleEvent(
                kind: .authRefused, uid: uid, gateway: self.environment.instanceID,
                atMilliseconds: GatewayEnvironment.nowMilliseconds, detail: reason.detail)
            self.outbox.append(
                StreamAppend(stream: self.environment.keys.eventsStream, fields: event.fields, maxLength: self.environment.streamMaxLength))
            var bytes = context.channel.allocator.buffer(capacity: 1)
            Validation.refused.write(to: &bytes)
            // A peer that does not read its refusal is not waited for longer than a step.
            self.shard.setDeadline(.now() + TimeAmount(delay) + self.environment.handshakeTimeout, for: id)
            if delay > .zero {
                context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(delay)) {
                    self.writeThenClose(bytes, context: context)
                }
            } else {
                self.writeThenClose(bytes, context: context)
            }
        }
    }

    private func handOver(uid: UID, initiation: Initiation, aclKey: AuthKey?, connectionID: String, context: ChannelHandlerContext) {
        self.state = .handedOver
        let server = self.environment.server
        let session = SessionHandler(
            environment: self.environment,
            shard: self.shard,
            outbox: self.outbox,
            address: RouterMessage.ConnectionAddress(uid: uid, gateway: self.environment.instanceID, connection: connectionID),
            statedMaxTransmissionLength: initiation.statedMaxTransmissionLength,
            remoteAddress: self.remoteAddress,
            aclKeyFingerprint: aclKey?.fingerprint,
            maxTransmissionLength: uid.isCentral ? server.centralMaxTransmissionLength : server.maxTransmissionLength
        )
        self.environment.metrics.loginsAccepted.increment()
        var bytes = context.channel.allocator.buffer(capacity: 1)
        Validation.accepted.write(to: &bytes)
        context.writeAndFlush(self.wrapOutboundOut(bytes), promise: nil)
        do {
            try context.pipeline.syncOperations.addHandler(session, position: .after(self))
        } catch {
            self.environment.logger.error("cannot install the session handler", metadata: ["conn": "\(connectionID)", "error": "\(error)"])
            context.close(promise: nil)
            return
        }
        if let pipelined = self.received, pipelined.readableBytes > 0 {
            context.fireChannelRead(self.wrapInboundOut(pipelined))
            context.fireChannelReadComplete()
        }
        self.received = nil
        if self.readHeld {
            self.readHeld = false
            context.read()
        }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    // MARK: Helpers

    /// Gives the current step `HandshakeTimeoutSec` from now, or `limit` when that is shorter
    /// (see ``ConnectionRegistry/Shard/setDeadline(_:for:)``).
    private func armDeadline(context: ChannelHandlerContext, atMost limit: TimeAmount? = nil) {
        guard let id = self.connectionID else { return }
        let timeout = self.environment.handshakeTimeout
        self.shard.setDeadline(.now() + min(limit ?? timeout, timeout), for: id)
    }

    private func deadlineMissed(context: ChannelHandlerContext) {
        switch self.state {
        case .awaitingProxyHeader, .awaitingInitiation, .awaitingAnswer, .authenticating:
            self.environment.metrics.handshakeTimeouts.increment()
            self.environment.logger.debug(
                "connection set-up timed out", metadata: ["conn": "\(self.connectionID ?? "-")", "remote": "\(self.remoteAddress)"])
            self.end(context: context)
        case .ending:
            // A refusal whose write never completed (the peer does not read): stop waiting.
            context.close(promise: nil)
        case .handedOver:
            break
        }
    }

    private func end(context: ChannelHandlerContext) {
        if case .handedOver = self.state { return }
        self.state = .ending
        context.close(promise: nil)
    }

    private func writeThenClose(_ bytes: ByteBuffer, context: ChannelHandlerContext) {
        context.writeAndFlush(self.wrapOutboundOut(bytes)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}
