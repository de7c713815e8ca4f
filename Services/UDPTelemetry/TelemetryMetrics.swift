import Metrics

/// Every metric udp-telemetry records (`iots_udp_*`), created once at start so hot paths only
/// touch existing counters.
///
/// The datagram handlers tally per read burst (``DatagramTally``) and add the totals here once
/// per burst, so a busy socket costs a few atomic additions per burst, not several per datagram.
final class TelemetryMetrics: Sendable {
    /// Datagrams read from the socket(s), whatever became of them.
    let received = Counter(label: "iots_udp_datagrams_received_total")
    /// Datagrams with a valid token, queued for the telemetry stream.
    let accepted = Counter(label: "iots_udp_datagrams_accepted_total")
    /// Datagrams (records) Redis confirmed on the telemetry stream.
    let appended = Counter(label: "iots_udp_telemetry_appended_total")
    private let dropped: [Counter]

    /// Token decisions made from this instance's cache (known owner or remembered absence).
    let cacheHits = Counter(label: "iots_udp_token_cache_hits_total")
    /// Datagrams whose token had to be asked of Redis (new, or last checked too long ago).
    let cacheMisses = Counter(label: "iots_udp_token_cache_misses_total")
    /// Tokens asked of Redis (first lookups and refreshes), and the batches that failed.
    let tokenLookups = Counter(label: "iots_udp_token_lookups_total")
    let tokenLookupFailures = Counter(label: "iots_udp_token_lookup_failures_total")
    let tokenLookupLatency = Metrics.Timer(label: "iots_udp_token_lookup_latency_seconds")

    /// Pipelined `XADD` batches: datagrams per batch, time per batch, batches retried.
    let appendBatchSize = Recorder(label: "iots_udp_append_batch_size")
    let appendLatency = Metrics.Timer(label: "iots_udp_append_latency_seconds")
    let appendFailures = Counter(label: "iots_udp_append_failures_total")

    init() {
        self.dropped = DropReason.allCases.map {
            Counter(label: "iots_udp_datagrams_dropped_total", dimensions: [("reason", $0.rawValue)])
        }
    }

    func dropped(_ reason: DropReason, count: Int = 1) {
        guard count > 0 else { return }
        self.dropped[reason.index].increment(by: count)
    }
}
