import AsyncHTTPClient
import NIOCore
import NIOHTTP1

/// Plain HTTP calls to a service on 127.0.0.1, as a load balancer's probe or a scraper would.
public enum AdminProbe {
    public struct Answer: Sendable {
        public var status: Int
        public var body: String
        public var headers: [(String, String)]

        public func header(_ name: String) -> String? {
            self.headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }
    }

    /// `GET http://127.0.0.1:<port><path>` with a 5 s deadline.
    public static func get(port: Int, path: String) async throws -> Answer {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = .GET
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
        let body = try await response.body.collect(upTo: 16 * 1024 * 1024)
        return Answer(
            status: Int(response.status.code),
            body: String(buffer: body),
            headers: response.headers.map { ($0.name, $0.value) }
        )
    }
}
