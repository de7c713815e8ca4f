import Metrics
import NIOCore
import NIOHTTPTypes

/// Closes an HTTP/1.1 connection that has waited on its client for `HTTPServer.IdleTimeoutSec`:
/// no request in progress and nothing received (a keep-alive connection the central forgot, a
/// peer gone without a FIN behind a NAT), or a request whose head or body stopped arriving (a
/// slow-header client holding a connection open). The time a request waits for its answer
/// (up to `MaxSecWaitResponse`) is the server's, not the client's: it never counts.
///
/// It sits first among the handlers after the HTTP/1 to HTTP types conversion, so it sees every
/// request and response, whether ``DirectCallHandler`` or Hummingbird answers them (Hummingbird's
/// own idle timer sits after both and would miss the calls answered on the fast path). A request
/// head arrives whole, so a head that trickles in byte by byte counts as silence. One timer per
/// connection, re-armed only when it fires: a request only updates two fields. HTTP/2 streams are
/// left alone (the HTTP/2 connection's idle timer covers them).
final class IdleConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let timeout: TimeAmount
    private let closed: Counter
    /// Requests whose head arrived and whose response has not ended.
    private var unanswered = 0
    /// A request's head arrived and its end has not.
    private var readingRequest = false
    /// When the client last sent a part, or the last response ended (the client's turn began).
    private var lastActivity = NIODeadline.now()
    private var timer: Scheduled<Void>?

    init(timeout: TimeAmount, closed: Counter) {
        self.timeout = timeout
        self.closed = closed
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive {
            self.start(context: context)
        }
    }

    func channelActive(context: ChannelHandlerContext) {
        self.start(context: context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.timer?.cancel()
        self.timer = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.timer?.cancel()
        self.timer = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.lastActivity = .now()
        switch self.unwrapInboundIn(data) {
        case .head:
            self.unanswered += 1
            self.readingRequest = true
        case .end:
            self.readingRequest = false
        case .body:
            break
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = self.unwrapOutboundIn(data), self.unanswered > 0 {
            self.unanswered -= 1
            self.lastActivity = .now()
        }
        context.write(data, promise: promise)
    }

    private func start(context: ChannelHandlerContext) {
        guard self.timer == nil, !context.channel.isHTTP2Stream else { return }
        self.lastActivity = .now()
        self.arm(context: context, at: self.lastActivity + self.timeout)
    }

    private func arm(context: ChannelHandlerContext, at deadline: NIODeadline) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        self.timer = context.eventLoop.scheduleTask(deadline: deadline) {
            let (handler, context) = loopBound.value
            handler.timer = nil
            handler.expire(context: context)
        }
    }

    private func expire(context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        let now = NIODeadline.now()
        if self.unanswered > 0 && !self.readingRequest {
            // The server owes an answer: the client is not idle. Look again a period later.
            self.arm(context: context, at: now + self.timeout)
        } else if now >= self.lastActivity + self.timeout {
            self.closed.increment()
            context.close(promise: nil)
        } else {
            self.arm(context: context, at: self.lastActivity + self.timeout)
        }
    }
}
