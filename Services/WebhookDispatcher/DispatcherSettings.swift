import IoTSocket
import Messaging
import ServiceKit

/// The dispatcher's view of the configuration: which applications exist and the limits every
/// delivery runs under.
///
/// Timing rules that keep "no double delivery while the first attempt still runs":
/// a delivery never lasts longer than ``attemptTimeout``; a telemetry batch stops starting
/// deliveries after ``telemetryBatchBudget``; so a batch ends within budget + one attempt,
/// well under ``telemetryReclaimAfter`` (the idle time before another consumer takes pending
/// entries over, and the lease on retried messages).
struct DispatcherSettings: Sendable {
    /// The URL of each configured application.
    var urls: [WebhookApplication: String]
    /// `Bearer <central key hex>`.
    var authorization: String
    /// Standard Webhooks signing key, when configured.
    var signingKey: [UInt8]?
    /// The largest answer body read.
    var maxContentLength: Int
    /// Deliveries in flight per application.
    var maxInFlight: Int
    /// A request webhook's deadline cap, and a telemetry delivery's longest duration.
    var attemptTimeout: Duration
    /// The connection establishment deadline.
    var connectTimeout: Duration
    /// When a telemetry batch stops starting deliveries (the rest go to the retry set, due now).
    var telemetryBatchBudget: Duration
    /// Pending telemetry entries idle this long are taken over; also the lease of a retried
    /// message being attempted.
    var telemetryReclaimAfter: Duration
    /// Pending request entries idle this long are taken over (by then their deadline passed).
    var requestReclaimAfter: Duration
    /// Telemetry retry timing.
    var retrySchedule: RetrySchedule
    /// `InactiveAfterSec` in ms.
    var inactiveAfterMilliseconds: Int

    /// - Throws: ``DispatcherStartupError`` when a URL is set without the central's key, or
    ///   the signing secret is malformed.
    init(_ configuration: ConcentratorConfiguration) throws(DispatcherStartupError) {
        let webHooks = configuration.central.webHooks
        var urls: [WebhookApplication: String] = [:]
        urls[.request] = webHooks.requestURL
        urls[.telemetry] = webHooks.telemetryURL
        self.urls = urls
        if let application = urls.keys.first, configuration.central.authKey == nil {
            throw .missingCentralKey(application: application == .request ? "Request" : "Telemetry")
        }
        self.authorization = "Bearer " + (configuration.central.authKey?.hex ?? "")
        self.signingKey = try webHooks.signingSecret.map { secret throws(DispatcherStartupError) in
            guard let key = WebhookSigner.key(fromSecret: secret) else { throw .invalidSigningSecret }
            return key
        }
        self.maxContentLength = webHooks.maxContentLength
        self.maxInFlight = webHooks.maxInFlight
        self.attemptTimeout = .seconds(webHooks.maxWaitSeconds)
        self.connectTimeout = .seconds(min(webHooks.maxWaitSeconds, 5))
        self.telemetryBatchBudget = self.attemptTimeout * 2
        self.telemetryReclaimAfter = self.attemptTimeout * 5 + .seconds(5)
        self.requestReclaimAfter = self.attemptTimeout * 2 + .seconds(10)
        self.retrySchedule = RetrySchedule(
            base: .seconds(webHooks.retryBaseSeconds),
            maxDelay: .seconds(webHooks.retryMaxDelaySeconds),
            maxAge: .seconds(webHooks.retryMaxAgeSeconds),
            maxAttempts: webHooks.retryMaxAttempts)
        self.inactiveAfterMilliseconds = webHooks.inactiveAfterSeconds * 1000
    }
}
