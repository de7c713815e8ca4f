import Hummingbird
import Logging
import ServiceLifecycle

/// The admin endpoint of one service: `GET /health`, `GET /ready`, `GET /metrics`.
///
/// `/health` answers 200 while the process runs (liveness). `/ready` answers 200 only while
/// every readiness check passes (Redis reachable, listeners bound…) and 503 naming the failing
/// checks otherwise, so orchestrators stop routing to an instance that cannot work.
/// `/metrics` renders the process's Prometheus registry. A service may add routes of its own
/// (operator actions) with `routes`.
public struct AdminServer: Service {
    /// One named condition of readiness; `check` must be cheap and must not hang (it runs on
    /// every probe).
    public struct ReadinessCheck: Sendable {
        public var name: String
        public var check: @Sendable () async -> Bool

        public init(name: String, check: @escaping @Sendable () async -> Bool) {
            self.name = name
            self.check = check
        }
    }

    private let application: Application<RouterResponder<BasicRequestContext>>

    /// - Parameters:
    ///   - address: the interface to listen on (127.0.0.1 keeps metrics off the network).
    ///   - port: the TCP port.
    ///   - service: the service's name, shown by `/health`.
    ///   - checks: what `/ready` evaluates, in order.
    ///   - routes: extra routes of the service (none by default); bodies above 64 KiB get 413.
    public init(address: String, port: Int, service: String, checks: [ReadinessCheck], routes: [AdminRoute] = [], logger: Logger) {
        let router = Router()
        router.get("/health") { _, _ in
            Self.text("ok \(service)\n", status: .ok)
        }
        router.get("/ready") { _, _ in
            var failing: [String] = []
            for check in checks where await !check.check() {
                failing.append(check.name)
            }
            if failing.isEmpty {
                return Self.text("ready\n", status: .ok)
            }
            return Self.text("not ready: \(failing.joined(separator: ", "))\n", status: .serviceUnavailable)
        }
        router.get("/metrics") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: Observability.renderMetrics()))
            )
        }
        for route in routes {
            let handler = route.handler
            router.on(RouterPath(route.path), method: route.method == .post ? .post : .get) { request, context in
                var parameters: [String: String] = [:]
                for (name, value) in context.parameters {
                    parameters[String(name)] = String(value)
                }
                let body = try await request.body.collect(upTo: 64 * 1024)
                let answer = await handler(
                    AdminRoute.Request(
                        parameters: parameters, authorization: request.headers[.authorization], body: Array(buffer: body)))
                return Response(
                    status: HTTPResponse.Status(code: answer.status),
                    headers: [.contentType: answer.contentType],
                    body: .init(byteBuffer: ByteBuffer(bytes: answer.body))
                )
            }
        }
        self.application = Application(
            router: router,
            configuration: .init(address: .hostname(address, port: port), serverName: "iots-admin-\(service)"),
            logger: logger
        )
    }

    public func run() async throws {
        try await self.application.run()
    }

    private static func text(_ body: String, status: HTTPResponse.Status) -> Response {
        Response(
            status: status,
            headers: [.contentType: "text/plain; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: body))
        )
    }
}
