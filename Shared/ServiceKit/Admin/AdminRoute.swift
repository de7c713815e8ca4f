/// An extra route a service adds to its admin endpoint (operator actions), kept free of the
/// HTTP framework so services need not depend on it.
public struct AdminRoute: Sendable {
    /// The methods an admin route may answer.
    public enum Method: String, Sendable {
        case get = "GET"
        case post = "POST"
    }

    /// What a handler receives.
    public struct Request: Sendable {
        /// Path parameters by name (`:name` in ``AdminRoute/path``).
        public var parameters: [String: String]
        /// The `Authorization` header, if any.
        public var authorization: String?
        /// The request body (bounded by the admin server).
        public var body: [UInt8]

        public init(parameters: [String: String], authorization: String?, body: [UInt8]) {
            self.parameters = parameters
            self.authorization = authorization
            self.body = body
        }
    }

    /// What a handler answers.
    public struct Response: Sendable {
        public var status: Int
        public var contentType: String
        public var body: [UInt8]

        public init(status: Int, contentType: String = "application/json", body: [UInt8]) {
            self.status = status
            self.contentType = contentType
            self.body = body
        }
    }

    public var method: Method
    /// The path, with `:name` for parameters (e.g. `/applications/:name/disable`).
    public var path: String
    /// Runs for each matching request; must not hang (the admin endpoint also answers probes).
    public var handler: @Sendable (Request) async -> Response

    public init(_ method: Method, _ path: String, handler: @escaping @Sendable (Request) async -> Response) {
        self.method = method
        self.path = path
        self.handler = handler
    }
}
