import HummingbirdCore
import Logging
import Metrics
import NIOCore
import NIOSSL
import NIOTLS

/// The HTTPS listener's connections with a deadline on their TLS handshake: a client that
/// connects and never finishes it (no ClientHello, a handshake that stalls half-way) is closed
/// after `HTTPServer.IdleTimeoutSec`, as a plain connection that never sends a request is by
/// ``IdleConnectionHandler``. Until the handshake the HTTP handlers do not exist yet (ALPN picks
/// HTTP/2 or HTTP/1.1 from it), so this wraps the connection's set-up and puts a
/// ``HandshakeDeadlineHandler`` right behind the TLS handler.
struct TLSHandshakeDeadline<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value

    let base: Base
    let timeout: TimeAmount
    let closed: Counter

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        self.base.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let pipeline = channel.pipeline.syncOperations
            let tls = try pipeline.handler(type: NIOSSLServerHandler.self)
            try pipeline.addHandler(HandshakeDeadlineHandler(timeout: self.timeout, closed: self.closed), position: .after(tls))
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await self.base.handle(value: value, logger: logger)
    }
}

/// Closes the connection unless the TLS handler reports a finished handshake in time, then
/// leaves the pipeline.
final class HandshakeDeadlineHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let timeout: TimeAmount
    private let closed: Counter
    private var timer: Scheduled<Void>?

    init(timeout: TimeAmount, closed: Counter) {
        self.timeout = timeout
        self.closed = closed
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        let closed = self.closed
        self.timer = context.eventLoop.scheduleTask(in: self.timeout) {
            closed.increment()
            loopBound.value.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.timer?.cancel()
        self.timer = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent {
            self.timer?.cancel()
            self.timer = nil
            context.fireUserInboundEventTriggered(event)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
