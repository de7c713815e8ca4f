import ServiceKit

/// How udp-telemetry listens, caches tokens and batches appends.
///
/// The listener and the stream limit come from the configuration file (`UDPServer{Addr, Port,
/// DatagramMaxSize}`, `Redis.StreamMaxLength`); the rest are tuned defaults with no
/// configuration key. Caches, budgets and queues are **per event loop** (one socket each), so
/// an instance holds at most `loops ×` each bound.
struct TelemetrySettings: Sendable {
    /// The interface and port to listen on.
    var address: String
    var port: Int
    /// Longer datagrams are dropped (`reason="oversize"`).
    var datagramMaxSize: Int
    /// `XADD … MAXLEN ~ n` on the telemetry stream.
    var streamMaxLength: Int

    // MARK: Socket

    /// Sockets bound to the port with `SO_REUSEPORT`, one per event loop; `nil` uses every loop.
    /// The kernel hashes each sender's address to one socket, so a device's datagrams stay in
    /// order on one loop.
    var socketCount: Int?
    /// Requested `SO_RCVBUF`: a deep kernel queue absorbs bursts while a loop is busy. Linux caps
    /// it at `net.core.rmem_max` (the effective size is logged at start).
    var receiveBufferBytes = 8 << 20
    /// Datagrams read per `recvmmsg` call.
    var datagramsPerSyscall = 32
    /// `recvmmsg` calls per readiness wake-up before the loop serves other work.
    var syscallsPerRead = 8

    // MARK: Token cache

    /// A token's owner, once read from Redis, is trusted this long at most (also never past the
    /// key's own expiry): revoked and expired tokens stop working within it.
    var ownerLifetime: Duration = .seconds(1)
    /// A token in use is re-read in the background once its owner is this old, so active devices
    /// never wait for a lookup.
    var refreshAfter: Duration = .milliseconds(500)
    /// An unknown, expired or revoked token is remembered (and dropped without asking Redis)
    /// this long.
    var absenceLifetime: Duration = .seconds(1)
    /// While Redis cannot be reached, a token known before the outage keeps working this long
    /// past its last check (never past its key's expiry), so telemetry queues up in the bounded
    /// buffer instead of being dropped. Revocation needs Redis, so none can be missed meanwhile.
    var outageGrace: Duration = .seconds(10)
    /// Owners not used for this long are forgotten.
    var idleRetention: Duration = .seconds(300)
    /// Most tokens one loop's cache holds (owners, absences and lookups in flight).
    var maxCachedTokens = 500_000
    /// Most remembered absences per loop.
    var maxRememberedAbsences = 100_000
    /// Lookups of never-seen tokens per second per loop (with an equal burst): what a spray of
    /// random tokens can cost Redis. Refreshes of known tokens are not limited.
    var newTokenLookupsPerSecond = 20_000
    /// Tokens being looked up at once per loop, beyond which never-seen tokens are throttled.
    var maxLookupsInFlight = 8_192
    /// Datagrams waiting for their token's lookup per loop, and per token.
    var maxHeldDatagrams = 16_384
    var maxHeldPerToken = 1_024

    // MARK: Appends

    /// Datagrams and payload bytes one loop may have waiting for Redis; beyond either, datagrams
    /// are dropped (`reason="backpressure"`).
    var outboxCapacity = 65_536
    var outboxByteCapacity = 32 << 20
    /// Most datagrams per pipelined batch of `XADD`s (each packing up to
    /// `TelemetryRecord.maxPerEntry`): a batch is a few hundred kilobytes at most, so token
    /// lookups sharing the Redis connection never wait long behind one.
    var appendBatchLimit = 4_096
    /// How long shutdown keeps retrying to append what is buffered before giving up on it.
    var shutdownFlushTimeout: Duration = .seconds(5)

    init(configuration: ConcentratorConfiguration) {
        self.address = configuration.udpServer.address
        self.port = configuration.udpServer.port
        self.datagramMaxSize = configuration.udpServer.datagramMaxSize
        self.streamMaxLength = configuration.redis.streamMaxLength
    }
}
