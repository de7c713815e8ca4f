import NIOCore
import NIOHTTP1
import NIOHTTPTypesHTTP1

/// Ends an HTTP/1.0 connection after its response unless the client asked to keep it
/// (`Connection: keep-alive`), as HTTP/1.0 clients expect: many read the response until the
/// server closes (ApacheBench, scripts over a raw socket) and would otherwise wait forever.
///
/// The request's version is lost when NIO's HTTP/1 parts become HTTP types, before Hummingbird
/// and ``DirectCallHandler`` see them, so this handler sits in front of that conversion and
/// turns the version's default into the header both act on, `Connection: close` (responses
/// are then marked `Connection: close` and the connection ends after the last one).
final class HTTP10CloseHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    init() {}

    /// Puts a handler in front of the channel's HTTP/1 to HTTP types conversion; does nothing
    /// on a channel without one (an HTTP/2 stream).
    static func install(in pipeline: ChannelPipeline.SynchronousOperations) throws {
        guard let codec = try? pipeline.handler(type: HTTP1ToHTTPServerCodec.self) else { return }
        try pipeline.addHandler(HTTP10CloseHandler(), position: .before(codec))
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var head) = self.unwrapInboundIn(data), head.version == .http1_0, !head.isKeepAlive else {
            context.fireChannelRead(data)
            return
        }
        head.headers.replaceOrAdd(name: "Connection", value: "close")
        context.fireChannelRead(self.wrapInboundOut(.head(head)))
    }
}
