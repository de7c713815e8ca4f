import Hummingbird
import IoTSocket

extension Response {
    /// The `Content-Type` of every JSON answer, whichever path wrote it (``DirectCallHandler``).
    static let jsonContentType = "application/json; charset=utf-8"

    /// A JSON response (`application/json; charset=utf-8`) holding `value` serialized compactly.
    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = Self.jsonContentType
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: value.serialized())))
    }

    /// A response with no body (`Content-Length: 0`).
    static func empty(status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentLength: "0"])
    }

    /// A text response.
    static func text(_ text: String, status: HTTPResponse.Status = .ok, contentType: String = "text/plain; charset=utf-8") -> Response {
        Response(status: status, headers: [.contentType: contentType], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// The error's JSON body with its status and headers.
    static func error(_ error: APIError) -> Response {
        .json(error.json, status: error.status, headers: error.headers)
    }
}
