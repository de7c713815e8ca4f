/// The keys of webhook-dispatcher's state: applications, telemetry retries, dead letters.
///
/// Every per-application key is named by ``WebhookApplication/rawValue`` (`request`,
/// `telemetry`), so http-api and the dispatchers read the same records.
extension KeySpace {
    /// The job stream of an application (``KeySpace/webhookRequests`` or
    /// ``KeySpace/webhookTelemetry``).
    public func webhookJobs(_ application: WebhookApplication) -> String {
        switch application {
        case .request: self.webhookRequests
        case .telemetry: self.webhookTelemetry
        }
    }
    /// Set: the names of the configured webhook applications.
    public var webhookApplications: String { self.prefix + "webhooks:apps" }
    /// Hash per application: its status record (see ``ApplicationStatus``).
    public func webhookApplication(_ application: WebhookApplication) -> String {
        self.prefix + "webhooks:app:" + application.rawValue
    }
    /// Sorted set per application: webhook id → when its next attempt is due (Unix ms). Any
    /// dispatcher instance drains it; a member being attempted is leased by moving its score
    /// past the attempt's longest duration.
    public func webhookRetries(_ application: WebhookApplication) -> String {
        self.prefix + "webhooks:retry:" + application.rawValue
    }
    /// Hash per application: webhook id → the message waiting in ``webhookRetries(_:)``.
    public func webhookRetryMessages(_ application: WebhookApplication) -> String {
        self.prefix + "webhooks:retry-msg:" + application.rawValue
    }
    /// Stream per application: messages given up on (retries exhausted, or the application
    /// disabled), each with its reason, until an operator replays them.
    public func webhookDeadLetters(_ application: WebhookApplication) -> String {
        self.prefix + "webhooks:dead:" + application.rawValue
    }
}
