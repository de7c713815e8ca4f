/// What became of one telemetry message after a delivery round, to be written to Redis.
enum TelemetryDisposition: Sendable, Equatable {
    /// The central answered 2xx: nothing left to do.
    case delivered
    /// Try again at `dueAtMilliseconds` (Unix ms); the message carries its updated history.
    case retry(PendingTelemetry, dueAtMilliseconds: Int)
    /// Given up: to the dead-letter stream with `reason`; `label` is the metric's reason
    /// (`exhausted`, `disabled`, `invalid_payload`).
    case deadLetter(PendingTelemetry, reason: String, label: String)
}
