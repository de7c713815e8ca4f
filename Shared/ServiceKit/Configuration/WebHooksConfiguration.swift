/// Where and how the concentrator calls the central over HTTP(S).
///
/// Keys (reference `Central.WebHooks` object): `Request` and `Telemetry` (URLs; empty: that
/// webhook is off), `HTTPBufferSize` (accepted, unused), `MaxContentLength` (524288: the
/// largest answer body read), `MaxSecWaitResponse` (5: a request webhook's deadline).
/// Additive: `SigningSecret` (empty: no Standard Webhooks signature headers).
public struct WebHooksConfiguration: Sendable, Equatable {
    public var requestURL: String?
    public var telemetryURL: String?
    public var maxContentLength = 524_288
    public var maxWaitSeconds = 5
    public var signingSecret: String?

    public init() {}
}

extension WebHooksConfiguration: Decodable {
    public init(from decoder: any Decoder) throws {
        let keys = try decoder.container(keyedBy: ConfigurationKey.self)
        self.init()
        self.requestURL = try Self.url(keys, "Request")
        self.telemetryURL = try Self.url(keys, "Telemetry")
        _ = try keys.integer("HTTPBufferSize", default: 1, in: 1...(1024 * 1024 * 1024))
        self.maxContentLength = try keys.integer("MaxContentLength", default: self.maxContentLength, in: 1...(1024 * 1024 * 1024))
        self.maxWaitSeconds = try keys.integer("MaxSecWaitResponse", default: self.maxWaitSeconds, in: 1...3600)
        self.signingSecret = try keys.fileName("SigningSecret")
        keys.warnAboutUnknownKeys(
            known: ["Request", "Telemetry", "HTTPBufferSize", "MaxContentLength", "MaxSecWaitResponse", "SigningSecret"],
            decoder: decoder)
    }

    private static func url(_ keys: KeyedDecodingContainer<ConfigurationKey>, _ key: String) throws -> String? {
        guard let url = try keys.fileName(key) else { return nil }
        guard url.hasPrefix("http://") || url.hasPrefix("https://"), url.count > 8 else {
            throw keys.invalid(key, expected: "an http:// or https:// URL, or \"\"", found: "\"\(url)\"")
        }
        return url
    }
}
