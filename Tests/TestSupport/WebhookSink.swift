import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// A real local HTTP server standing in for the central's webhook endpoints in tests.
///
/// It records every request (path, headers, body) on arrival and answers as the test says:
/// status, body, headers and an optional delay, per path (`/request`, `/telemetry`) and
/// switchable at any time. Start with ``start()``, stop with ``stop()``.
public final class WebhookSink: Sendable {
    /// How the sink answers.
    public struct Reply: Sendable {
        public var status: Int
        public var body: String
        public var headers: [String: String]
        public var delay: Duration

        public init(status: Int = 200, body: String = "", headers: [String: String] = [:], delay: Duration = .zero) {
            self.status = status
            self.body = body
            self.headers = headers
            self.delay = delay
        }

        /// 200 with `body`.
        public static func ok(_ body: String = "") -> Reply { Reply(body: body) }
    }

    /// One request as received.
    public struct Received: Sendable {
        public var path: String
        /// Header names in lowercase.
        public var headers: [String: String]
        public var body: [UInt8]
        /// The status the sink answered (chosen on arrival; a delayed answer may never arrive).
        public var replyStatus: Int = 0
        public var bodyText: String { String(decoding: self.body, as: UTF8.self) }
        /// The body as a JSON object, if it is one.
        public var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: Data(self.body))) as? [String: Any] }
    }

    private struct State {
        var replies: [String: Reply] = [:]
        var received: [Received] = []
    }

    public let port: Int
    private let state: Mutex<State>
    private let task: Task<Void, any Error>

    private init(port: Int, task: Task<Void, any Error>) {
        self.port = port
        self.state = Mutex(State())
        self.task = task
    }

    /// The URL of `path` on this sink.
    public func url(_ path: String) -> String { "http://127.0.0.1:\(self.port)\(path)" }

    /// Starts a sink on a free port, answering 200 with an empty body until told otherwise.
    public static func start() async throws -> WebhookSink {
        let box = Box()
        let router = Router()
        for path in ["/request", "/telemetry"] {
            router.post(RouterPath(path)) { request, _ -> Response in
                let body = try await request.body.collect(upTo: 16 * 1024 * 1024)
                var headers: [String: String] = [:]
                for field in request.headers {
                    headers[field.name.canonicalName.lowercased()] = field.value
                }
                let received = Received(path: path, headers: headers, body: Array(buffer: body))
                let reply = box.sink.withLock { $0 }?.record(received) ?? Reply()
                if reply.delay > .zero {
                    try await Task.sleep(for: reply.delay)
                }
                var fields = HTTPFields()
                fields[.contentType] = "application/json"
                for (name, value) in reply.headers {
                    if let name = HTTPField.Name(name) { fields[name] = value }
                }
                return Response(
                    status: HTTPResponse.Status(code: reply.status), headers: fields,
                    body: .init(byteBuffer: ByteBuffer(string: reply.body)))
            }
        }
        let (portStream, portSink) = AsyncStream.makeStream(of: Int.self)
        var logger = Logger(label: "webhook-sink")
        // Stopping cancels requests still being delayed, which the server logs as errors.
        logger.logLevel = .critical
        let application = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: "webhook-sink"),
            onServerRunning: { channel in
                portSink.yield(channel.localAddress?.port ?? 0)
                portSink.finish()
            },
            logger: logger)
        let task = Task { try await application.runService() }
        var port = 0
        for await bound in portStream {
            port = bound
        }
        let sink = WebhookSink(port: port, task: task)
        box.sink.withLock { $0 = sink }
        return sink
    }

    /// Stops the server.
    public func stop() async {
        self.task.cancel()
        _ = try? await self.task.value
    }

    /// Answers requests to `path` (or to every path when nil) with `reply` from now on.
    public func reply(_ reply: Reply, path: String? = nil) {
        self.state.withLock { state in
            if let path {
                state.replies[path] = reply
            } else {
                state.replies = ["/request": reply, "/telemetry": reply]
            }
        }
    }

    /// Every request received on `path` so far, in arrival order.
    public func received(path: String) -> [Received] {
        self.state.withLock { $0.received.filter { $0.path == path } }
    }

    /// Waits until `path` has received at least `count` requests matching `filter`, at most
    /// `timeout`; returns those received (possibly fewer, on timeout).
    @discardableResult
    public func waitForRequests(
        path: String, count: Int, timeout: Duration = .seconds(10), where filter: @Sendable (Received) -> Bool = { _ in true }
    ) async -> [Received] {
        let end = ContinuousClock.now + timeout
        while true {
            let matching = self.received(path: path).filter(filter)
            if matching.count >= count || ContinuousClock.now >= end { return matching }
            try? await Task.sleep(for: .milliseconds(25))
        }
    }

    private func record(_ received: Received) -> Reply {
        self.state.withLock { state in
            let reply = state.replies[received.path] ?? Reply()
            var received = received
            received.replyStatus = reply.status
            state.received.append(received)
            return reply
        }
    }

    /// Lets the route handlers reach the sink created after the router.
    private final class Box: Sendable {
        let sink = Mutex<WebhookSink?>(nil)
    }
}
