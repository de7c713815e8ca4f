import IoTSocket
import Metrics
import ServiceKit

/// Every metric http-api records (`iots_http_*`), so names and labels live in one place.
///
/// Per-request metrics are looked up by route and status on each request: the Prometheus
/// registry returns the existing series, so the set of series stays bounded by routes × statuses.
final class HTTPAPIMetrics: Sendable {
    /// HTTP calls held open waiting for the router (`/request`, ACL changes).
    let callsWaiting = Gauge(label: "iots_http_calls_waiting")
    /// Replies read from this instance's stream that matched no waiting call (late, or meant
    /// for a previous process with the same instance id).
    let unmatchedReplies = Counter(label: "iots_http_replies_unmatched_total")
    /// Reply stream entries that are not valid `APIReply`s.
    let malformedReplies = Counter(label: "iots_http_replies_malformed_total")
    /// Calls answered 0xA1 by this instance because no reply came by the deadline (router down
    /// or slow).
    let localTimeouts = Counter(label: "iots_http_local_timeouts_total")
    /// Device responses whose payload did not match its format, returned as BINARY instead.
    let payloadsReformatted = Counter(label: "iots_http_payloads_reformatted_total")

    /// Counts one request and its duration, both by route and status (a 161 after 30 s and a
    /// 400 at once are different latencies).
    func recordRequest(route: String, status: Int, duration: Duration) {
        let dimensions = [("route", route), ("status", String(status))]
        Counter(label: "iots_http_requests_total", dimensions: dimensions).increment()
        Metrics.Timer(label: "iots_http_request_duration_seconds", dimensions: dimensions)
            .recordNanoseconds(duration.wholeNanoseconds)
    }

    /// Counts one `/request` call by the code it was answered with.
    func recordAnswer(_ code: ResponseCode) {
        Counter(label: "iots_http_calls_answered_total", dimensions: [("code", String(code.rawValue))]).increment()
    }
}
