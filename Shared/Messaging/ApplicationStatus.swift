import IoTSocket

/// The stored record of one webhook application: what it is, what happened to it, and the
/// status derived from that.
///
/// Kept in the hash ``KeySpace/webhookApplication(_:)`` by the dispatchers (fields: `url`,
/// `provisionedAt`, `inactiveAfterMs`, `disabled`, `disabledAt`, `lastAttemptAt`,
/// `lastSuccessAt`, `lastErrorAt`, `lastError`, and the counters `delivered`, `failed`,
/// `retried`, `deadLettered`, `replayed`; times in Unix ms). The status is not stored but
/// derived from the record and the current time by ``state(atMilliseconds:)``, so a reader
/// needs no clock of the writer's and no background job flips statuses.
public struct ApplicationStatus: Sendable, Equatable {
    public var application: WebhookApplication
    /// The configured URL.
    public var url: String
    /// When this URL was first configured.
    public var provisionedAtMilliseconds: Int
    /// `Central.WebHooks.InactiveAfterSec` in ms, as the dispatchers apply it.
    public var inactiveAfterMilliseconds: Int
    /// Whether an operator disabled it.
    public var disabled: Bool
    public var disabledAtMilliseconds: Int?
    public var lastAttemptAtMilliseconds: Int?
    public var lastSuccessAtMilliseconds: Int?
    public var lastErrorAtMilliseconds: Int?
    /// The last failure, e.g. `HTTP 500` or `timed out`.
    public var lastError: String?
    /// Messages delivered (2xx).
    public var delivered: Int
    /// Attempts that failed (non-2xx, bad answer, timeout, connection failure).
    public var failed: Int
    /// Telemetry retries scheduled.
    public var retried: Int
    /// Telemetry messages moved to the dead-letter stream.
    public var deadLettered: Int
    /// Dead-lettered messages replayed by an operator.
    public var replayed: Int

    /// A record for a newly configured application.
    public init(application: WebhookApplication, url: String, provisionedAtMilliseconds: Int, inactiveAfterMilliseconds: Int) {
        self.application = application
        self.url = url
        self.provisionedAtMilliseconds = provisionedAtMilliseconds
        self.inactiveAfterMilliseconds = inactiveAfterMilliseconds
        self.disabled = false
        self.delivered = 0
        self.failed = 0
        self.retried = 0
        self.deadLettered = 0
        self.replayed = 0
    }

    /// Reads a stored hash; nil when it lacks `url` or `provisionedAt` (not registered).
    public init?(application: WebhookApplication, fields: [String: [UInt8]]) {
        func text(_ name: String) -> String? { fields[name].map { String(decoding: $0, as: UTF8.self) } }
        func number(_ name: String) -> Int? { text(name).flatMap { Int($0) } }
        guard let url = text("url"), let provisioned = number("provisionedAt") else { return nil }
        self.init(
            application: application, url: url, provisionedAtMilliseconds: provisioned,
            inactiveAfterMilliseconds: number("inactiveAfterMs") ?? 172_800_000)
        self.disabled = text("disabled") == "1"
        self.disabledAtMilliseconds = number("disabledAt")
        self.lastAttemptAtMilliseconds = number("lastAttemptAt")
        self.lastSuccessAtMilliseconds = number("lastSuccessAt")
        self.lastErrorAtMilliseconds = number("lastErrorAt")
        self.lastError = text("lastError")
        self.delivered = number("delivered") ?? 0
        self.failed = number("failed") ?? 0
        self.retried = number("retried") ?? 0
        self.deadLettered = number("deadLettered") ?? 0
        self.replayed = number("replayed") ?? 0
    }

    /// The status at `now` (Unix ms):
    /// - Disabled while an operator has it disabled;
    /// - Running when the last success is within the inactivity period;
    /// - Provisioned when nothing ever succeeded and the application is younger than the
    ///   inactivity period (attempts that failed do not end Provisioned early);
    /// - Inactive otherwise: no success within the period (nothing sent, or only failures).
    public func state(atMilliseconds now: Int) -> ApplicationState {
        if self.disabled { return .disabled }
        if let success = self.lastSuccessAtMilliseconds {
            return now - success < self.inactiveAfterMilliseconds ? .running : .inactive
        }
        return now - self.provisionedAtMilliseconds < self.inactiveAfterMilliseconds ? .provisioned : .inactive
    }

    /// The JSON object `GET /applications` shows: `Name`, `URL` (without credentials),
    /// `Status`, `ProvisionedAt`, `LastSuccessAt`, `LastErrorAt` (Unix ms or null),
    /// `LastError`, `Delivered`, `Failed`, `RetriesScheduled`, `DeadLettered`, `Replayed`.
    public func jsonValue(atMilliseconds now: Int) -> JSONValue {
        func optional(_ value: Int?) -> JSONValue { value.map { JSONValue($0) } ?? .null }
        return JSONValue(object: [
            ("Name", .string(self.application.rawValue)),
            ("URL", .string(Self.withoutCredentials(self.url))),
            ("Status", .string(self.state(atMilliseconds: now).rawValue)),
            ("ProvisionedAt", JSONValue(self.provisionedAtMilliseconds)),
            ("LastSuccessAt", optional(self.lastSuccessAtMilliseconds)),
            ("LastErrorAt", optional(self.lastErrorAtMilliseconds)),
            ("LastError", self.lastError.map { .string($0) } ?? .null),
            ("Delivered", JSONValue(self.delivered)),
            ("Failed", JSONValue(self.failed)),
            ("RetriesScheduled", JSONValue(self.retried)),
            ("DeadLettered", JSONValue(self.deadLettered)),
            ("Replayed", JSONValue(self.replayed)),
        ])
    }

    /// `https://user:secret@host/p` → `https://host/p`: URLs are shown to operators and
    /// written to logs, credentials are not.
    public static func withoutCredentials(_ url: String) -> String {
        guard let scheme = url.firstRange(of: "://") else { return url }
        let rest = url[scheme.upperBound...]
        let authorityEnd = rest.firstIndex(of: "/") ?? rest.endIndex
        guard let at = rest[..<authorityEnd].lastIndex(of: "@") else { return url }
        return String(url[..<scheme.upperBound]) + String(rest[rest.index(after: at)...])
    }
}
