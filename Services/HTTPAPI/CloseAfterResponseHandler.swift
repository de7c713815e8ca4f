import Hummingbird
import HummingbirdCore
import NIOCore
import NIOHTTPTypes

/// Closes a connection after a response that refused to read the request's body (413, or an
/// error answered before the body was needed), so a client cannot make the server drain an
/// arbitrarily long body after the answer.
///
/// The responder marks such a response with `Connection: close`. On HTTP/1.1 the header is
/// kept (it tells the client) and the connection closes once the response is written. On an
/// HTTP/2 stream the header is forbidden, so it is removed; there the stream alone is closed
/// (a reset tells the client to stop sending), leaving the connection's other streams alone,
/// and it is closed after *any* response sent before the request's end arrived: an HTTP/2
/// request need not announce its length, so the responder cannot always tell that a body is
/// still coming (a body cut off at `HTTPServer.MaxContentLength`, a 401 before the body), and
/// a stream left as it is stays open, unread, with the client's upload stalled on flow control
/// until the connection ends.
final class CloseAfterResponseHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPConnectionStateHandler.OutboundIn
    typealias OutboundOut = HTTPConnectionStateHandler.OutboundOut

    private var isHTTP2Stream = false
    private var closeAfterEnd = false
    /// The request's end went by (an HTTP/2 stream carries one request).
    private var requestEnded = false

    init() {}

    func handlerAdded(context: ChannelHandlerContext) {
        self.isHTTP2Stream = context.channel.isHTTP2Stream
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .end = self.unwrapInboundIn(data) {
            self.requestEnded = true
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch self.unwrapOutboundIn(data) {
        case .head(var head) where head.headerFields[.connection]?.lowercased() == "close":
            self.closeAfterEnd = true
            if self.isHTTP2Stream {
                head.headerFields[.connection] = nil
                context.write(self.wrapOutboundOut(.head(head)), promise: promise)
                return
            }
            context.write(data, promise: promise)
        case .end where self.closeAfterEnd || (self.isHTTP2Stream && !self.requestEnded):
            self.closeAfterEnd = false
            context.writeAndFlush(data, promise: promise)
            context.close(promise: nil)
        default:
            context.write(data, promise: promise)
        }
    }
}
