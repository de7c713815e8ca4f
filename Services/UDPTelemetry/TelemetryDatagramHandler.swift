import IoTSocket
import NIOCore
import ServiceKit

/// Turns the datagrams of one socket into telemetry entries: size check, exact-length parse,
/// token check through this loop's ``TelemetryTokenCache``, then the loop's
/// ``TelemetryOutbox``; everything else is dropped and counted by reason.
///
/// The handler and its cache live on the socket's event loop. Lookups the cache asks for are
/// sent to the ``TelemetryTokenResolver`` once per read burst (not per datagram), and their
/// answers come back to this loop, which releases the datagrams that waited, in order.
final class TelemetryDatagramHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    /// One clock reading shared by the datagrams of a read burst (they arrive within
    /// microseconds of each other; reading the clocks once per burst keeps them off the hot path).
    private struct Burst {
        let now: NIODeadline
        let wallMilliseconds: Int
    }

    private let datagramMaxSize: Int
    private let outbox: TelemetryOutbox
    private let resolver: TelemetryTokenResolver
    private let metrics: TelemetryMetrics
    private var cache: TelemetryTokenCache
    private var tally = DatagramTally()
    private var burst: Burst?
    private var sweeper: RepeatedTask?
    /// This handler as the resolver's answers reach it: on its loop, whatever thread answered.
    private var loopBound: NIOLoopBound<TelemetryDatagramHandler>?

    init(settings: TelemetrySettings, outbox: TelemetryOutbox, resolver: TelemetryTokenResolver, metrics: TelemetryMetrics) {
        self.datagramMaxSize = settings.datagramMaxSize
        self.outbox = outbox
        self.resolver = resolver
        self.metrics = metrics
        self.cache = TelemetryTokenCache(settings: settings, now: .now())
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        self.loopBound = loopBound
        self.sweeper = context.eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
            loopBound.value.cache.sweep(now: .now())
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.sweeper?.cancel()
        self.sweeper = nil
        // The box refers to this handler: let go of it so the handler can be freed.
        self.loopBound = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let datagram = self.unwrapInboundIn(data).data
        let burst = self.currentBurst()
        self.tally.received += 1

        guard datagram.readableBytes <= self.datagramMaxSize else {
            self.tally.drop(.oversize)
            return
        }
        guard let token = TelemetryDatagram.peekToken(in: datagram) else {
            self.tally.drop(.malformed)
            return
        }
        let state = self.cache.state(of: token, now: burst.now)
        if case .absent(let reason) = state {
            // Checked before parsing: a token known to be bad costs no copy at all.
            self.tally.cacheHits += 1
            self.tally.drop(reason)
            return
        }
        guard (try? TelemetryDatagram(parsing: datagram)) != nil else {
            self.tally.drop(.malformed)
            return
        }
        // The parse proved that everything after the token is exactly one payload block: its
        // wire form, as the stream entry stores it.
        let payloadBlock = Array(datagram.readableBytesView.dropFirst(TelemetryToken.byteCount))

        switch state {
        case .owner(let uid, let refreshDue):
            self.tally.cacheHits += 1
            if refreshDue {
                self.cache.beginRefresh(token)
            }
            self.append(uid: uid, payloadBlock: payloadBlock, receivedAtMilliseconds: burst.wallMilliseconds)
        case .lookupNeeded:
            self.tally.cacheMisses += 1
            let held = HeldDatagram(payloadBlock: payloadBlock, receivedAtMilliseconds: burst.wallMilliseconds)
            if let reason = self.cache.hold(held, for: token, now: burst.now) {
                self.tally.drop(reason)
            }
        case .absent:
            preconditionFailure("absent tokens are dropped before parsing")
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.burst = nil
        self.sendLookups()
        self.tally.flush(into: self.metrics)
    }

    // MARK: Lookups

    private func sendLookups() {
        let tokens = self.cache.takeLookups()
        guard !tokens.isEmpty, let loopBound = self.loopBound else { return }
        let sentAt = NIODeadline.now()
        self.resolver.lookUp(tokens) { results in
            loopBound.eventLoop.execute {
                loopBound.value.lookupsFinished(tokens, results: results, sentAt: sentAt)
            }
        }
    }

    private func lookupsFinished(_ tokens: [TelemetryToken], results: [TokenLookupResult], sentAt: NIODeadline) {
        let now = NIODeadline.now()
        for (token, result) in zip(tokens, results) {
            switch self.cache.resolve(token, result, sentAt: sentAt, now: now) {
            case .nothing:
                break
            case .accept(let uid, let datagrams):
                for datagram in datagrams {
                    self.append(uid: uid, payloadBlock: datagram.payloadBlock, receivedAtMilliseconds: datagram.receivedAtMilliseconds)
                }
            case .drop(let reason, let count):
                self.tally.drop(reason, count: count)
            }
        }
        // Answers arrive between read bursts: count now rather than at the next burst's end.
        self.tally.flush(into: self.metrics)
    }

    // MARK: Helpers

    private func append(uid: String, payloadBlock: [UInt8], receivedAtMilliseconds: Int) {
        if self.outbox.append(uid: uid, payloadBlock: payloadBlock, receivedAtMilliseconds: receivedAtMilliseconds) {
            self.tally.accepted += 1
        } else {
            self.tally.drop(.backpressure)
        }
    }

    private func currentBurst() -> Burst {
        if let burst = self.burst {
            return burst
        }
        let burst = Burst(now: .now(), wallMilliseconds: WallClock.milliseconds())
        self.burst = burst
        return burst
    }
}
