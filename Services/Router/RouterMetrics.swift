import Metrics

/// The router's counters, created once (swift-metrics handles are cheap to use, not to create).
struct RouterMetrics: Sendable {
    let messages: Counter
    let malformed: Counter
    let requestsSent: Counter
    let requestsHeld: Counter
    let requestsRefused: Counter
    let requestsBusy: Counter
    let requestsToWebhook: Counter
    let responsesDelivered: Counter
    let responsesLate: Counter
    let responsesUndeliverable: Counter
    /// Responses longer than the requester's stated maximum, answered 0x01 instead.
    let responsesTooLong: Counter
    let timeouts: Counter
    let keptExpired: Counter
    let heldResponsesDropped: Counter
    let tokensIssued: Counter
    let sessionsOpened: Counter
    let sessionsReplaced: Counter
    let sessionsKept: Counter
    let sessionsDropped: Counter
    /// Logins a gateway accepted with a cached ACL key the ACL no longer held: closed.
    let sessionsRefusedStaleACL: Counter
    let aclReplacements: Counter
    let aclSize: Gauge
    let batchDuration: Metrics.Timer
    let deadGateways: Counter
    /// Frames gateways returned (their connection had closed), by what became of them.
    let returnedFrames: [String: Counter]

    init() {
        self.messages = Counter(label: "iots_router_messages_total")
        self.malformed = Counter(label: "iots_router_malformed_total")
        self.requestsSent = Counter(label: "iots_router_requests_total", dimensions: [("outcome", "sent")])
        self.requestsHeld = Counter(label: "iots_router_requests_total", dimensions: [("outcome", "held")])
        self.requestsRefused = Counter(label: "iots_router_requests_total", dimensions: [("outcome", "not_found")])
        self.requestsBusy = Counter(label: "iots_router_requests_total", dimensions: [("outcome", "tracking_in_progress")])
        self.requestsToWebhook = Counter(label: "iots_router_requests_total", dimensions: [("outcome", "webhook")])
        self.responsesDelivered = Counter(label: "iots_router_responses_total", dimensions: [("outcome", "delivered")])
        self.responsesLate = Counter(label: "iots_router_responses_total", dimensions: [("outcome", "late")])
        self.responsesUndeliverable = Counter(label: "iots_router_responses_total", dimensions: [("outcome", "undeliverable")])
        self.responsesTooLong = Counter(label: "iots_router_responses_total", dimensions: [("outcome", "too_long")])
        self.timeouts = Counter(label: "iots_router_request_timeouts_total")
        self.keptExpired = Counter(label: "iots_router_kept_sessions_expired_total")
        self.heldResponsesDropped = Counter(label: "iots_router_held_responses_dropped_total")
        self.tokensIssued = Counter(label: "iots_router_telemetry_tokens_issued_total")
        self.sessionsOpened = Counter(label: "iots_router_sessions_total", dimensions: [("event", "opened")])
        self.sessionsReplaced = Counter(label: "iots_router_sessions_total", dimensions: [("event", "replaced")])
        self.sessionsKept = Counter(label: "iots_router_sessions_total", dimensions: [("event", "kept")])
        self.sessionsDropped = Counter(label: "iots_router_sessions_total", dimensions: [("event", "dropped")])
        self.sessionsRefusedStaleACL = Counter(label: "iots_router_sessions_total", dimensions: [("event", "refused_stale_acl")])
        self.aclReplacements = Counter(label: "iots_router_acl_replacements_total")
        self.aclSize = Gauge(label: "iots_router_acl_entries")
        self.batchDuration = Metrics.Timer(label: "iots_router_batch_duration_seconds")
        self.deadGateways = Counter(label: "iots_router_dead_gateways_total")
        self.returnedFrames = Dictionary(
            uniqueKeysWithValues: ["sent", "held", "absent", "full", "toolong", "stale"].map {
                ($0, Counter(label: "iots_router_returned_frames_total", dimensions: [("outcome", $0)]))
            })
    }
}
