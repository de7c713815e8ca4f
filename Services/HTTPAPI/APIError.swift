import Hummingbird
import IoTSocket

/// A request the API refuses, with what the caller needs to fix it.
///
/// Rendered as `{"error": message, "field": field}` (no `field` when the problem is not one
/// input's), with the status and any extra headers (`WWW-Authenticate`, `Allow`).
struct APIError: Error, CustomStringConvertible {
    var status: HTTPResponse.Status
    var message: String
    /// The input at fault: a body member (`UID`, `[2].AuthKey`, `Payload[3]`), a query
    /// parameter, a header (`Authorization`, `Content-Length`) or `body` for the whole body.
    var field: String?
    var headers: HTTPFields = [:]

    var description: String {
        self.field.map { "\(self.status.code) \($0): \(self.message)" } ?? "\(self.status.code): \(self.message)"
    }

    /// 400: `field` is malformed.
    static func badRequest(_ message: String, field: String) -> APIError {
        APIError(status: .badRequest, message: message, field: field)
    }

    /// 400: `field` is absent.
    static func missing(_ field: String, expected: String) -> APIError {
        APIError(status: .badRequest, message: "\(field) is missing, expected \(expected)", field: field)
    }

    /// 400: `field` holds a JSON value of the wrong kind.
    static func wrongKind(_ field: String, found value: JSONValue, expected: String) -> APIError {
        APIError(status: .badRequest, message: "\(field) is \(value.kindDescription), expected \(expected)", field: field)
    }

    /// 401 with the challenge RFC 6750 asks for.
    static func unauthorized(_ message: String, invalidToken: Bool) -> APIError {
        let challenge = invalidToken ? #"Bearer realm="iotsocket", error="invalid_token""# : #"Bearer realm="iotsocket""#
        return APIError(status: .unauthorized, message: message, field: "Authorization", headers: [.wwwAuthenticate: challenge])
    }

    static func notFound(_ message: String) -> APIError {
        APIError(status: .notFound, message: message)
    }

    /// 405 naming the methods the path accepts in `Allow`.
    static func methodNotAllowed(_ method: HTTPRequest.Method, path: String, allowed: [HTTPRequest.Method]) -> APIError {
        let list = allowed.map(\.rawValue).joined(separator: ", ")
        return APIError(
            status: .methodNotAllowed, message: "\(method.rawValue) is not allowed on \(path), use \(list)",
            headers: [.allow: list])
    }

    /// 413: the body is (or announces itself) longer than `HTTPServer.MaxContentLength`.
    static func contentTooLarge(length: Int?, maximum: Int) -> APIError {
        let size = length.map { "\($0) bytes" } ?? "more than \(maximum) bytes"
        return APIError(
            status: .contentTooLarge, message: "the body is \(size), at most \(maximum) are accepted (HTTPServer.MaxContentLength)",
            field: "body")
    }

    /// 503: the router did not confirm in time; the change may still be applied later.
    static func routerUnavailable(_ what: String) -> APIError {
        APIError(status: .serviceUnavailable, message: "the router did not confirm the \(what) in time; retry later")
    }

    /// 500: a dependency failed (Redis); the message is safe to show.
    static func internalFailure(_ message: String) -> APIError {
        APIError(status: .internalServerError, message: message)
    }

    /// The JSON body of this error.
    var json: JSONValue {
        var members: [(String, JSONValue)] = [("error", .string(self.message))]
        if let field = self.field {
            members.append(("field", .string(field)))
        }
        return JSONValue(object: members)
    }
}
