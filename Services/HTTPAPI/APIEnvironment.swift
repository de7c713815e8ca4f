import Logging

/// What the API's handlers share: the key check, the router exchange, the Redis reads, limits,
/// metrics and logger. Built once at start.
struct APIEnvironment: Sendable {
    let authorization: BearerAuthorization
    let exchange: RouterExchange
    let directory: DeviceDirectory
    let metrics: HTTPAPIMetrics
    let logger: Logger
    /// `HTTPServer.MaxContentLength`: the longest body read.
    let maxContentLength: Int
    /// `HTTPServer.MaxSecWaitResponse`: the cap and default of `/request`'s `Timeout`.
    let maxWaitSeconds: Int
    /// `KeepSessionSec` in ms, to derive when a kept element was last seen.
    let keepSessionMilliseconds: Int
    /// How long an ACL change may take the router before the call answers 503.
    let aclTimeout: Duration
    /// The names of the readiness checks failing now (empty: ready).
    let failingReadinessChecks: @Sendable () async -> [String]
}
