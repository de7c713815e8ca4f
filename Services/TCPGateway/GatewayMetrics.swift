import Metrics

/// Every metric the gateway records (`iots_gateway_*`), created once at start so hot paths
/// only touch an existing counter.
final class GatewayMetrics: Sendable {
    /// TCP connections currently open, in any phase.
    let connectionsOpen = Gauge(label: "iots_gateway_connections_open")
    /// Slots in use: connections past an accepted initiation (sessions and logins in progress).
    let slotsUsed = Gauge(label: "iots_gateway_slots_used")
    let loginsAccepted = Counter(label: "iots_gateway_logins_accepted_total")
    /// Where an object's login found its ACL record: this gateway's cache or Redis.
    let aclFromCache = Counter(label: "iots_gateway_acl_lookups_total", dimensions: [("source", "cache")])
    let aclFromRedis = Counter(label: "iots_gateway_acl_lookups_total", dimensions: [("source", "redis")])
    /// Times the ACL cache was emptied (the ACL changed, or its version could not be read).
    let aclCacheFlushes = Counter(label: "iots_gateway_acl_cache_flushes_total")
    private let loginsRefused: [LoginRefusal: Counter]
    /// Connections closed because a set-up step missed its deadline.
    let handshakeTimeouts = Counter(label: "iots_gateway_handshake_timeouts_total")
    /// TLS handshakes that failed.
    let tlsFailures = Counter(label: "iots_gateway_tls_failures_total")
    private let protocolErrors: [ProtocolErrorKind: Counter]
    /// Transmissions received from sessions (Ping, Pong and Close included).
    let framesIn = Counter(label: "iots_gateway_frames_in_total")
    /// Transmissions written to sessions (router frames, Pongs, Pings, Closes).
    let framesOut = Counter(label: "iots_gateway_frames_out_total")
    /// Router frames longer than the element's stated maximum transmission length.
    let droppedOversize = Counter(label: "iots_gateway_frames_dropped_total", dimensions: [("reason", "oversize")])
    /// Commands for a connection this instance does not hold (any more).
    let droppedUnknownConnection = Counter(
        label: "iots_gateway_frames_dropped_total", dimensions: [("reason", "unknown_connection")])
    /// Command stream entries that are not valid `GatewayCommand`s.
    let droppedMalformedCommand = Counter(label: "iots_gateway_frames_dropped_total", dimensions: [("reason", "malformed_command")])
    let pingsSent = Counter(label: "iots_gateway_pings_sent_total")
    /// Frames for a session that had just closed, handed back to the router to hold.
    let framesReturned = Counter(label: "iots_gateway_frames_returned_total")
    /// Connections dropped because their peer stopped reading and too much waited for it.
    let slowConsumerCloses = Counter(label: "iots_gateway_slow_consumer_closes_total")
    /// Sessions closed because no traffic followed a Ping in time (session kept).
    let pingTimeouts = Counter(label: "iots_gateway_ping_timeouts_total")
    /// Pipelined XADD batches sent, entries in them, and how long each took.
    let publishBatches = Counter(label: "iots_gateway_publish_batches_total")
    let publishedEntries = Counter(label: "iots_gateway_published_entries_total")
    let publishBatchSize = Recorder(label: "iots_gateway_publish_batch_size")
    let publishLatency = Metrics.Timer(label: "iots_gateway_publish_latency_seconds")
    /// Batches that failed and were retried.
    let publishFailures = Counter(label: "iots_gateway_publish_failures_total")
    /// Entries given up on: queue full while Redis lags, or retries exhausted.
    let publishDropped = Counter(label: "iots_gateway_publish_dropped_total")
    /// Requests among those dropped, answered 0xA0 by the gateway itself.
    let requestsAnsweredUndelivered = Counter(label: "iots_gateway_requests_undelivered_total")

    /// Which rule a session broke; the `reason` of `iots_gateway_protocol_errors_total`.
    enum ProtocolErrorKind: String, CaseIterable {
        /// Not a valid transmission (unknown ToT, reserved bits, bad UID, bad payload format…).
        case malformed
        /// Announced more bytes than the session accepts.
        case oversize
        /// A transmission the element's role may not send.
        case role
    }

    init() {
        var refused: [LoginRefusal: Counter] = [:]
        for reason in LoginRefusal.allCases {
            refused[reason] = Counter(label: "iots_gateway_logins_refused_total", dimensions: [("reason", reason.rawValue)])
        }
        self.loginsRefused = refused
        var errors: [ProtocolErrorKind: Counter] = [:]
        for kind in ProtocolErrorKind.allCases {
            errors[kind] = Counter(label: "iots_gateway_protocol_errors_total", dimensions: [("reason", kind.rawValue)])
        }
        self.protocolErrors = errors
    }

    func loginRefused(_ reason: LoginRefusal) {
        self.loginsRefused[reason]?.increment()
    }

    func protocolError(_ kind: ProtocolErrorKind) {
        self.protocolErrors[kind]?.increment()
    }
}
