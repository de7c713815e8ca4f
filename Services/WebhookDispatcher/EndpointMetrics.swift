import Messaging
import Metrics

/// The `iots_webhook_*` metrics of one application.
///
/// - `iots_webhook_deliveries_total{application,outcome}`: attempts by outcome (`delivered`,
///   `http_4xx`, `http_5xx`, `timeout`, `connection_refused`, `transport_error`, `circuit_open`,
///   `answer_too_large`, `invalid_answer`, `invalid_payload`, `disabled`, `expired`);
/// - `iots_webhook_queue_to_send_seconds{application}`: from the job's entry in its stream to
///   the first attempt's send;
/// - `iots_webhook_http_seconds{application}`: one HTTP exchange;
/// - `iots_webhook_retries_scheduled_total{application}`, `iots_webhook_dead_lettered_total
///   {application,reason}`, `iots_webhook_replayed_total{application}`;
/// - `iots_webhook_in_flight{application}`, `iots_webhook_circuit_state{application}` (0 closed,
///   1 half-open, 2 open), `iots_webhook_retry_backlog{application}`,
///   `iots_webhook_dead_letter_backlog{application}`,
///   `iots_webhook_application_status{application,status}` (1 for the current status).
struct EndpointMetrics: Sendable {
    let application: WebhookApplication
    let delivered: Counter
    let queueToSend: Timer
    let httpDuration: Timer
    let retriesScheduled: Counter
    let replayed: Counter
    let inFlight: Gauge
    let circuitState: Gauge
    let retryBacklog: Gauge
    let deadLetterBacklog: Gauge

    init(_ application: WebhookApplication) {
        let name = ("application", application.rawValue)
        self.application = application
        self.delivered = Counter(label: "iots_webhook_deliveries_total", dimensions: [name, ("outcome", "delivered")])
        self.queueToSend = Timer(label: "iots_webhook_queue_to_send_seconds", dimensions: [name], preferredDisplayUnit: .seconds)
        self.httpDuration = Timer(label: "iots_webhook_http_seconds", dimensions: [name], preferredDisplayUnit: .seconds)
        self.retriesScheduled = Counter(label: "iots_webhook_retries_scheduled_total", dimensions: [name])
        self.replayed = Counter(label: "iots_webhook_replayed_total", dimensions: [name])
        self.inFlight = Gauge(label: "iots_webhook_in_flight", dimensions: [name])
        self.circuitState = Gauge(label: "iots_webhook_circuit_state", dimensions: [name])
        self.retryBacklog = Gauge(label: "iots_webhook_retry_backlog", dimensions: [name])
        self.deadLetterBacklog = Gauge(label: "iots_webhook_dead_letter_backlog", dimensions: [name])
    }

    /// Counts an attempt that did not deliver (outcomes are few, so the counter is looked up).
    func count(outcome: String) {
        Counter(label: "iots_webhook_deliveries_total", dimensions: [("application", self.application.rawValue), ("outcome", outcome)])
            .increment()
    }

    /// Counts messages dead-lettered for `reason`.
    func countDeadLettered(_ count: Int, reason: String) {
        Counter(label: "iots_webhook_dead_lettered_total", dimensions: [("application", self.application.rawValue), ("reason", reason)])
            .increment(by: Int64(count))
    }

    /// Sets the status gauges: 1 for `state`, 0 for the others.
    func record(state: ApplicationState) {
        for candidate in ApplicationState.allCases {
            Gauge(
                label: "iots_webhook_application_status",
                dimensions: [("application", self.application.rawValue), ("status", candidate.rawValue)]
            ).record(candidate == state ? 1 : 0)
        }
    }
}
