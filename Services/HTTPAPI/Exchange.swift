import Hummingbird
import IoTSocket

/// One request being answered, and whether its body has been read (a response sent before
/// that closes the connection, see ``APIResponder``).
struct Exchange: Sendable {
    let request: Request
    private(set) var bodyRead = false

    init(request: Request) {
        self.request = request
    }

    /// Whether the request announces a body (`Content-Length` above 0, or chunked).
    var hasBody: Bool {
        if let length = self.request.headers[.contentLength] {
            return length != "0"
        }
        return self.request.headers[.transferEncoding] != nil
    }

    /// Reads the whole body and parses it as JSON.
    ///
    /// The limit is enforced before reading when `Content-Length` announces more, and while
    /// reading otherwise (chunked bodies stop at the limit).
    /// - Throws: `APIError` 413 above `limit`, 400 (field `body`) for bytes that are not one
    ///   strict JSON text, 400 when the client stopped sending midway.
    mutating func readJSONBody(limit: Int) async throws(APIError) -> JSONValue {
        if let text = self.request.headers[.contentLength] {
            guard let length = Int(text), length >= 0 else {
                throw .badRequest("Content-Length \"\(text)\" is not a byte count", field: "Content-Length")
            }
            guard length <= limit else { throw .contentTooLarge(length: length, maximum: limit) }
        }
        var body = ByteBuffer()
        do {
            for try await part in self.request.body {
                guard body.readableBytes + part.readableBytes <= limit else {
                    throw APIError.contentTooLarge(length: nil, maximum: limit)
                }
                var part = part
                body.writeBuffer(&part)
            }
        } catch let error as APIError {
            throw error
        } catch {
            throw .badRequest("the body could not be read: \(error)", field: "body")
        }
        self.bodyRead = true
        guard body.readableBytes > 0 else {
            throw .badRequest("the body is empty, expected JSON", field: "body")
        }
        do {
            return try JSONValue(parsing: body)
        } catch {
            throw .badRequest(error.description, field: "body")
        }
    }
}
