import HTTPTypes
import Hummingbird
import IoTSocket
import NIOCore
import NIOHTTPTypes

/// Answers a well-formed `POST /request` on an HTTP/1.1 connection from the channel's event
/// loop, and hands every other request, unchanged, to Hummingbird's responder.
///
/// Why: a call answered through Hummingbird crosses threads four times (the event loop hands
/// the request to a task on Swift Concurrency's pool, the task hands the Redis append to the
/// client's loop, the reply reader's loop resumes the task, the task hands the response back to
/// the channel's loop); at a few thousand calls a second those hand-overs and the sleeps and
/// wake-ups between them were most of http-api's CPU. Here the request is parsed, sent and
/// answered by callbacks, and the reply crosses to the channel's loop once.
///
/// Only calls that will get a 200 are taken: `POST /request` with no query, a valid bearer key,
/// a `Content-Length` within `HTTPServer.MaxContentLength`, no `Expect`, `Connection` or
/// `Transfer-Encoding`, and a body that ``CallRequest`` accepts. Anything else (including a
/// body that fails validation, which is replayed after it was collected) goes to
/// ``APIResponder``, which gives every error and its message in one place. The answer, metrics
/// and headers (`Date`, `Server`) are the same on both paths. For every HTTP/1.1 request, this
/// handler also answers `Expect: 100-continue` (Hummingbird does not) and normalises a
/// `Connection` header holding `close` in any case to the exact value Hummingbird acts on, and
/// installs ``HTTP10ConnectionHandler`` for HTTP/1.0's connection handling.
///
/// HTTP/1.1 keeps responses in request order: while a request is with Hummingbird no call is
/// taken here (it follows it to Hummingbird), and while a call is in flight the parts that
/// arrive next are held (and, once some are, the channel's reads) until it is answered. A
/// graceful shutdown (`ChannelShouldQuiesceEvent`) and the end of the client's input (a client
/// that shuts down its sending side after the request) are held back from Hummingbird while a
/// call is in progress, so the call is answered before Hummingbird, which takes the connection
/// for idle, closes it. HTTP/2 streams (one request each) always go to Hummingbird.
final class DirectCallHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// Where the connection's current inbound request stands.
    private enum Inbound {
        /// Between requests: the next part is a head.
        case idle
        /// A call taken here: its head, when it arrived, and its body so far.
        case collecting(HTTPRequest, since: ContinuousClock.Instant, body: ByteBuffer)
        /// A request going to Hummingbird: its parts are passed on until its end.
        case passing
    }

    private let responder: APIResponder
    private let dateHeader: HTTPDateHeader
    private let serverName: String
    private var inbound = Inbound.idle
    /// A call taken here is waiting for its answer.
    private var callInFlight = false
    /// Parts that arrived while a call was in flight, in order.
    private var held = CircularBuffer<HTTPRequestPart>()
    /// Requests passed to Hummingbird whose response has not been written to the end.
    private var responsesOwedByResponder = 0
    private var readHeld = false
    /// An error (a malformed request pipelined behind a call): Hummingbird answers it with a
    /// 400 and closes, so it waits until the call before it is answered.
    private var errorHeld: (any Error)?
    private var quiesceHeld = false
    private var inputClosedHeld = false
    private var quiescing = false
    /// A request passed to Hummingbird asked to close the connection after its response.
    private var closeRequested = false
    private var isHTTP2Stream = false
    /// Parts were passed on since the last `channelReadComplete`: Hummingbird's async channel
    /// hands reads to its task only at a read-complete, so held parts passed on after a call
    /// need one of their own.
    private var passedSinceReadComplete = false

    /// - Parameters:
    ///   - serverName: the `Server` header, as Hummingbird's configuration sets it.
    init(responder: APIResponder, dateHeader: HTTPDateHeader, serverName: String) {
        self.responder = responder
        self.dateHeader = dateHeader
        self.serverName = serverName
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.isHTTP2Stream = context.channel.isHTTP2Stream
        if !self.isHTTP2Stream {
            do {
                try HTTP10ConnectionHandler.install(in: context.pipeline.syncOperations)
            } catch {
                context.fireErrorCaught(error)
            }
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = self.unwrapInboundIn(data)
        if self.callInFlight {
            self.held.append(part)
        } else {
            self.handle(part, context: context)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.passedSinceReadComplete = false
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            self.quiescing = true
            if self.callInProgress {
                self.quiesceHeld = true
                return
            }
        } else if case .inputClosed? = event as? ChannelEvent, self.callInProgress || !self.held.isEmpty {
            // After the parts still held, so Hummingbird sees them before the end of input.
            self.inputClosedHeld = true
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if self.callInFlight || !self.held.isEmpty {
            if self.errorHeld == nil { self.errorHeld = error }
            return
        }
        if case .collecting(let head, _, let body) = self.inbound {
            // The call's body never ended: Hummingbird gets what arrived, then the error.
            self.pass(.head(head), context: context)
            if body.readableBytes > 0 {
                self.pass(.body(body), context: context)
            }
        }
        context.fireErrorCaught(error)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch self.unwrapOutboundIn(data) {
        case .end where self.responsesOwedByResponder > 0:
            self.responsesOwedByResponder -= 1
        case .head(var head) where self.closeRequested && self.responsesOwedByResponder == 1 && head.status.kind != .informational:
            // The last response before Hummingbird closes: say so (RFC 9112 §9.6).
            head.headerFields[.connection] = "close"
            context.write(self.wrapOutboundOut(.head(head)), promise: promise)
            return
        default:
            break
        }
        context.write(data, promise: promise)
    }

    /// Whether a `Connection` header holds the `close` token (any case, among others).
    private static func asksToClose(_ value: String) -> Bool {
        value.split(separator: ",").contains { $0.filter { $0 != " " && $0 != "\t" }.lowercased() == "close" }
    }

    func read(context: ChannelHandlerContext) {
        // Reads stop only for a client that sends more while a call is in flight (pipelining),
        // which bounds what is held; stopping them for every call would cost two epoll_ctl
        // calls per call.
        if self.callInFlight && !self.held.isEmpty {
            self.readHeld = true
        } else {
            context.read()
        }
    }

    /// A call is being collected or waits for its answer.
    private var callInProgress: Bool {
        if case .collecting = self.inbound { return true }
        return self.callInFlight
    }

    private func handle(_ part: HTTPRequestPart, context: ChannelHandlerContext) {
        switch (self.inbound, part) {
        case (.idle, .head(var head)):
            if let connection = head.headerFields[.connection], connection != "close", Self.asksToClose(connection) {
                // Hummingbird ends the connection only for the exact value `close`; the header's
                // tokens are case-insensitive (`Close`, `close, TE`).
                head.headerFields[.connection] = "close"
            }
            self.continueIfExpected(head, context: context)
            if let length = self.directContentLength(head) {
                // Sized for the announced body, up to a few KiB: a client announcing the
                // maximum and sending nothing does not hold that much memory.
                let capacity = min(length, 4096)
                self.inbound = .collecting(head, since: .now, body: context.channel.allocator.buffer(capacity: capacity))
            } else {
                self.pass(.head(head), context: context)
            }
        case (.collecting(let head, let since, var body), .body(var bytes)):
            self.inbound = .idle  // so the body below is uniquely referenced and grows in place
            body.writeBuffer(&bytes)
            self.inbound = .collecting(head, since: since, body: body)
        case (.collecting(let head, let since, let body), .end(let trailers)):
            self.inbound = .idle
            if let call = self.validCall(body) {
                self.start(call, since: since, context: context)
            } else {
                // The responder gives the 400 that names the field.
                self.pass(.head(head), context: context)
                if body.readableBytes > 0 {
                    self.pass(.body(body), context: context)
                }
                self.pass(.end(trailers), context: context)
                self.releaseHeldEventsIfIdle(context: context)
            }
        default:
            // A request for Hummingbird, or parts out of order, which its handler reports.
            self.pass(part, context: context)
        }
    }

    /// Passes a part to Hummingbird, keeping count of the responses it owes.
    private func pass(_ part: HTTPRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head(let head):
            self.responsesOwedByResponder += 1
            self.inbound = .passing
            if head.headerFields[.connection] == "close" {
                self.closeRequested = true
            }
        case .end:
            self.inbound = .idle
        case .body:
            break
        }
        self.passedSinceReadComplete = true
        context.fireChannelRead(self.wrapInboundOut(part))
    }

    /// Answers `Expect: 100-continue` with `100 Continue` when the request will be read: a valid
    /// bearer key and no body over `HTTPServer.MaxContentLength` (a refusal is the final answer
    /// instead, and the body is not read). Only when nothing is owed before it (HTTP/1.1 keeps
    /// responses in order); a client that gets no `100` sends its body after its own delay.
    private func continueIfExpected(_ head: HTTPRequest, context: ChannelHandlerContext) {
        let fields = head.headerFields
        guard !self.isHTTP2Stream, !self.callInFlight, self.responsesOwedByResponder == 0,
            let expect = fields[.expect], expect.lowercased() == "100-continue"
        else { return }
        if let text = fields[.contentLength] {
            guard let length = Int(text), length <= self.responder.environment.maxContentLength else { return }
        }
        do {
            try self.responder.environment.authorization.check(fields)
        } catch {
            return
        }
        context.writeAndFlush(self.wrapOutboundOut(.head(HTTPResponse(status: .continue))), promise: nil)
    }

    /// The body length of a head this handler takes, or nil when Hummingbird must answer it.
    private func directContentLength(_ head: HTTPRequest) -> Int? {
        let fields = head.headerFields
        guard !self.isHTTP2Stream, !self.quiescing, self.responsesOwedByResponder == 0,
            head.method == .post, head.path == APIRoute.request.rawValue,
            fields[.connection] == nil, fields[.expect] == nil, fields[.transferEncoding] == nil,
            let text = fields[.contentLength], let length = Int(text),
            length > 0, length <= self.responder.environment.maxContentLength
        else { return nil }
        do {
            try self.responder.environment.authorization.check(fields)
        } catch {
            return nil
        }
        return length
    }

    /// The call in `body`, or nil when the body is not one the responder would accept.
    private func validCall(_ body: ByteBuffer) -> CallRequest? {
        guard let json = try? JSONValue(parsing: body) else { return nil }
        return try? CallRequest(json: json, maxWaitSeconds: self.responder.environment.maxWaitSeconds)
    }

    private func start(_ call: CallRequest, since: ContinuousClock.Instant, context: ChannelHandlerContext) {
        self.callInFlight = true
        let loop = context.eventLoop
        let handler = NIOLoopBound((self, context), eventLoop: loop)
        let uid = call.uid
        self.responder.environment.exchange.call(uid: uid, payload: call.payload, timeout: .seconds(call.timeoutSeconds)) { answer in
            // Always through `execute`, even when already on the loop: the answer may come
            // back inside the call above (a failed append), before it returned.
            loop.execute {
                let (handler, context) = handler.value
                handler.finish(answer, uid: uid, since: since, context: context)
            }
        }
    }

    private func finish(_ answer: RouterExchange.Answer, uid: UID, since: ContinuousClock.Instant, context: ChannelHandlerContext) {
        let body = ByteBuffer(bytes: self.responder.answered(answer, uid: uid).serialized())
        let head = HTTPResponse(
            status: .ok,
            headerFields: [
                .contentType: Response.jsonContentType, .contentLength: String(body.readableBytes),
                .date: self.dateHeader.now, .server: self.serverName,
            ])
        context.write(self.wrapOutboundOut(.head(head)), promise: nil)
        context.write(self.wrapOutboundOut(.body(body)), promise: nil)
        context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
        self.responder.environment.metrics.recordRequest(
            route: APIRoute.request.rawValue, status: HTTPResponse.Status.ok.code, duration: .now - since)
        self.callInFlight = false
        while !self.callInFlight, let part = self.held.popFirst() {
            self.handle(part, context: context)
        }
        if self.passedSinceReadComplete {
            self.channelReadComplete(context: context)
        }
        guard !self.callInFlight else { return }
        if self.readHeld {
            self.readHeld = false
            context.read()
        }
        self.releaseHeldEventsIfIdle(context: context)
    }

    /// Hands held events on once no call is in progress here: an error, the end of input, then a
    /// graceful shutdown.
    private func releaseHeldEventsIfIdle(context: ChannelHandlerContext) {
        guard !self.callInProgress else { return }
        if let error = self.errorHeld {
            self.errorHeld = nil
            context.fireErrorCaught(error)
        }
        if self.inputClosedHeld {
            self.inputClosedHeld = false
            context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        }
        if self.quiesceHeld {
            self.quiesceHeld = false
            context.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
    }
}
