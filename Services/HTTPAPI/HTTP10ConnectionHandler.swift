import NIOCore
import NIOHTTP1
import NIOHTTPTypesHTTP1

/// Gives HTTP/1.0 clients the connection handling their version defines: the connection ends
/// after the response unless the client asked to keep it (`Connection: keep-alive`), and a kept
/// connection is confirmed with `Connection: keep-alive` on the response.
///
/// Many HTTP/1.0 clients read a response until the server closes (ApacheBench, scripts over a
/// raw socket) and would otherwise wait forever; those that ask for keep-alive (`ab -k`) take a
/// response without the confirmation as the last one on the connection and wait for the close
/// just the same.
///
/// The request's version is lost when NIO's HTTP/1 parts become HTTP types, before Hummingbird
/// and ``DirectCallHandler`` see them, so this handler sits in front of that conversion. Inbound,
/// it turns the version's default into the header both act on, `Connection: close` (responses
/// are then marked `Connection: close` and the connection ends after the last one). Outbound, it
/// adds the confirmation to the response of each HTTP/1.0 request that asked to be kept
/// (responses leave in request order, so a queue of one flag per request pairs them).
final class HTTP10ConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// For each request whose response has not started: whether it is HTTP/1.0 with keep-alive.
    private var confirmKeepAlive = CircularBuffer<Bool>(initialCapacity: 2)

    init() {}

    /// Puts a handler in front of the channel's HTTP/1 to HTTP types conversion; does nothing
    /// on a channel without one (an HTTP/2 stream).
    static func install(in pipeline: ChannelPipeline.SynchronousOperations) throws {
        guard let codec = try? pipeline.handler(type: HTTP1ToHTTPServerCodec.self) else { return }
        try pipeline.addHandler(HTTP10ConnectionHandler(), position: .before(codec))
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var head) = self.unwrapInboundIn(data) else {
            context.fireChannelRead(data)
            return
        }
        // HTTP/1.1 heads (nearly all) pass untouched, their headers not even searched.
        let keepAlive = head.version == .http1_0 ? head.isKeepAlive : nil
        self.confirmKeepAlive.append(keepAlive == true)
        guard keepAlive == false else {
            context.fireChannelRead(data)
            return
        }
        head.headers.replaceOrAdd(name: "Connection", value: "close")
        context.fireChannelRead(self.wrapInboundOut(.head(head)))
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // An interim response (100 Continue) is not the request's response.
        guard case .head(var head) = self.unwrapOutboundIn(data), head.status.code >= 200,
            let confirm = self.confirmKeepAlive.popFirst(), confirm, head.isKeepAlive
        else {
            context.write(data, promise: promise)
            return
        }
        head.headers.replaceOrAdd(name: "Connection", value: "keep-alive")
        context.write(self.wrapOutboundOut(.head(head)), promise: promise)
    }
}
