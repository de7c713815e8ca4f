/// Where and how the concentrator calls the central over HTTP(S).
///
/// Keys (reference `Central.WebHooks` object): `Request` and `Telemetry` (URLs; empty: that
/// webhook is off), `HTTPBufferSize` (accepted, unused), `MaxContentLength` (524288: the
/// largest answer body read), `MaxSecWaitResponse` (5: a request webhook's deadline, and the
/// longest a telemetry delivery may take).
/// Additive: `SigningSecret` (empty: no Standard Webhooks signature headers; `whsec_<base64>`
/// or plain text), `MaxInFlight` (64: deliveries in flight per webhook URL),
/// `InactiveAfterSec` (172800: an application without a successful delivery for this long is
/// Inactive), `RetryBaseSec` (10: first telemetry retry delay, doubled at each attempt),
/// `RetryMaxDelaySec` (21600: the longest delay between two attempts), `RetryMaxAgeSec`
/// (259200: a telemetry message still failing this long after its first failure is
/// dead-lettered), `RetryMaxAttempts` (0: no limit besides `RetryMaxAgeSec`).
public struct WebHooksConfiguration: Sendable, Equatable {
    public var requestURL: String?
    public var telemetryURL: String?
    public var maxContentLength = 524_288
    public var maxWaitSeconds = 5
    public var signingSecret: String?
    /// Deliveries in flight at once per webhook URL (requests beyond it wait in Redis).
    public var maxInFlight = 64
    /// Seconds without a successful delivery after which an application is Inactive.
    public var inactiveAfterSeconds = 172_800
    /// The first telemetry retry delay in seconds; each further attempt doubles it.
    public var retryBaseSeconds = 10
    /// The cap on one retry delay, in seconds.
    public var retryMaxDelaySeconds = 21_600
    /// How long after its first failure a telemetry message keeps being retried, in seconds.
    public var retryMaxAgeSeconds = 259_200
    /// The most delivery attempts of one telemetry message; 0 = limited by age only.
    public var retryMaxAttempts = 0

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
        self.maxInFlight = try keys.integer("MaxInFlight", default: self.maxInFlight, in: 1...4096)
        self.inactiveAfterSeconds = try keys.integer("InactiveAfterSec", default: self.inactiveAfterSeconds, in: 1...(365 * 86_400))
        self.retryBaseSeconds = try keys.integer("RetryBaseSec", default: self.retryBaseSeconds, in: 1...86_400)
        self.retryMaxDelaySeconds = try keys.integer("RetryMaxDelaySec", default: self.retryMaxDelaySeconds, in: 1...(7 * 86_400))
        self.retryMaxAgeSeconds = try keys.integer("RetryMaxAgeSec", default: self.retryMaxAgeSeconds, in: 1...(30 * 86_400))
        self.retryMaxAttempts = try keys.integer("RetryMaxAttempts", default: self.retryMaxAttempts, in: 0...1000)
        keys.warnAboutUnknownKeys(
            known: [
                "Request", "Telemetry", "HTTPBufferSize", "MaxContentLength", "MaxSecWaitResponse", "SigningSecret",
                "MaxInFlight", "InactiveAfterSec", "RetryBaseSec", "RetryMaxDelaySec", "RetryMaxAgeSec", "RetryMaxAttempts",
            ],
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
