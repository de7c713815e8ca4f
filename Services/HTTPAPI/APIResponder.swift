import Foundation
import Hummingbird
import IoTSocket
import ServiceKit

/// Answers every request of the API: finds the route, enforces method, bearer key and body
/// limit, runs the endpoint and records the request's metrics.
///
/// Checks run before any body byte is read: 404 unknown path, 405 wrong method (with `Allow`),
/// 401 bad key, 413 `Content-Length` above `HTTPServer.MaxContentLength`. A response sent
/// without having read the whole body carries `Connection: close` (see
/// ``CloseAfterResponseHandler``) so the rest is never drained. Every failure is an
/// ``APIError`` rendered as JSON; nothing escapes as a bare 500.
struct APIResponder: HTTPResponder {
    typealias Context = BasicRequestContext

    let environment: APIEnvironment

    func respond(to request: Request, context: Context) async throws -> Response {
        let start = ContinuousClock.now
        var exchange = Exchange(request: request)
        let match = APIRoute.match(path: request.uri.path)
        var response: Response
        do {
            response = try await self.dispatch(&exchange, match: match)
        } catch {
            response = .error(error)
            if error.status.code >= 500 {
                self.environment.logger.error("request failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            } else {
                self.environment.logger.debug("request refused", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            }
        }
        if !exchange.bodyRead && exchange.hasBody {
            response.headers[.connection] = "close"
        }
        self.environment.metrics.recordRequest(
            route: match?.route.rawValue ?? APIRoute.unmatchedLabel, status: response.status.code, duration: ContinuousClock.now - start)
        return response
    }

    private func dispatch(_ exchange: inout Exchange, match: (route: APIRoute, uidSegment: Substring?)?) async throws(APIError) -> Response {
        let request = exchange.request
        guard let (route, uidSegment) = match else {
            throw .notFound("no endpoint at \(request.uri.path); see GET /openapi.yaml")
        }
        guard route.methods.contains(request.method) else {
            throw .methodNotAllowed(request.method, path: request.uri.path, allowed: route.methods)
        }
        if route.requiresAuthorization {
            try self.environment.authorization.check(request.headers)
        }
        switch (route, request.method) {
        case (.acl, _):
            return try await self.replaceACL(body: try await exchange.readJSONBody(limit: self.environment.maxContentLength))
        case (.request, _):
            return try await self.call(body: try await exchange.readJSONBody(limit: self.environment.maxContentLength))
        case (.devices, _):
            return try await self.listDevices(query: request.uri.queryParameters)
        case (.device, .get):
            return try await self.device(try Self.uid(segment: uidSegment))
        case (.device, .put):
            let uid = try Self.uid(segment: uidSegment)
            return try await self.putDevice(uid, body: try await exchange.readJSONBody(limit: self.environment.maxContentLength))
        case (.device, _):
            return try await self.deleteDevice(try Self.uid(segment: uidSegment))
        case (.centralSession, _):
            return try await self.centralSession()
        case (.applications, _):
            return try await self.applications()
        case (.openAPI, _):
            return .text(OpenAPIDocument.yaml, contentType: "application/yaml; charset=utf-8")
        case (.health, _):
            return .text("ok http-api\n")
        case (.ready, _):
            let failing = await self.environment.failingReadinessChecks()
            return failing.isEmpty
                ? .text("ready\n") : .text("not ready: \(failing.joined(separator: ", "))\n", status: .serviceUnavailable)
        case (.metrics, _):
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: Observability.renderMetrics())))
        }
    }

    /// The UID named by a `/devices/{uid}` path segment (percent-decoded UTF-8).
    private static func uid(segment: Substring?) throws(APIError) -> UID {
        guard let segment, let text = String(segment).removingPercentEncoding else {
            throw .badRequest("the UID in the path is not valid percent-encoded UTF-8", field: "uid")
        }
        do {
            return try UID(text)
        } catch {
            throw .badRequest(error.description, field: "uid")
        }
    }
}
