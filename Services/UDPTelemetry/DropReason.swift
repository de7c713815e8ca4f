/// Why a datagram did not reach the telemetry stream: the `reason` label of
/// `iots_udp_datagrams_dropped_total`.
enum DropReason: String, CaseIterable, Sendable {
    /// Longer than `UDPServer.DatagramMaxSize`.
    case oversize
    /// Shorter than a token plus an empty block, a length that is not exactly 11 + the block's
    /// length, or an unknown payload format.
    case malformed
    /// No such token in Redis: never issued (groups without telemetry get none), or forged.
    case unknownToken = "unknown_token"
    /// The token's key ran out of time to live (its lifetime ended without renewal).
    case expired
    /// The token's key was deleted before its expiry (session ended, device removed).
    case revoked
    /// The token's owner is in an ACL group whose `Telemetry` is off here (groups with
    /// telemetry off get no token; this one was issued before the setting changed).
    case telemetryOff = "telemetry_off"
    /// A token never seen before arrived while this instance was already looking up as many new
    /// tokens as it allows: what a spray of random tokens costs is bounded, not a Redis
    /// round trip each.
    case throttled
    /// Redis could not be asked about a token this instance did not know.
    case lookupFailed = "lookup_failed"
    /// Queues were full: Redis lags or is down and the bounded buffers overflowed.
    case backpressure
    /// Redis refused the append itself (an error reply to `XADD`).
    case appendRefused = "append_refused"

    /// A dense index for per-reason tallies kept in fixed-size arrays.
    var index: Int {
        // `allCases` order is declaration order, which never changes at run time.
        Self.allCases.firstIndex(of: self)!
    }
}
