import Logging
import Messaging
import Metrics
import RedisBus
import ServiceKit
import ServiceLifecycle
import Synchronization

/// Which router instance consumes the router and telemetry streams: one at a time, under a
/// lease in Redis (``Messaging/KeySpace/routerLeader``), so every element's messages are routed
/// in the order it sent them however many routers run. The others stand by, renewing their
/// claim every ``renewEvery``, and one of them takes over within ``leaseTime`` when the leader
/// stops (it gives the lease back at once) or fails (the lease runs out); it first takes over
/// what the leader left pending.
///
/// The sweeper's clock-driven steps run on every instance (each claims its work atomically).
/// A leader that cannot renew stops starting reads ``stopReadingBefore`` its lease runs out, and
/// leaves pending what a read brings back after that; only a leader stalled for longer than
/// that in the middle of a batch could still be routing it when its successor starts.
final class RouterLeadership: Service, ConsumerTurn {
    private struct State {
        /// Until when this instance may read (its lease, less a safety margin); nil: not leader.
        var validUntil: ContinuousClock.Instant?
        var term = 0
        /// What was last logged: leading or standing by (nil before the first claim).
        var leading: Bool?
        /// Claims that failed in a row (Redis unreachable), to log the first and every 30th.
        var failures = 0
    }

    /// `GET` the lease; take it when free, extend it when ours. Returns 2 (taken), 1 (extended)
    /// or 0 (someone else holds it).
    static let claimScript = RedisScript(
        """
        local holder = redis.call('GET', KEYS[1])
        if holder == ARGV[1] then
          redis.call('PEXPIRE', KEYS[1], ARGV[2])
          return 1
        end
        if not holder then
          redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
          return 2
        end
        return 0
        """)

    /// Deletes the lease if it is still ours.
    static let releaseScript = RedisScript(
        """
        if redis.call('GET', KEYS[1]) == ARGV[1] then
          return redis.call('DEL', KEYS[1])
        end
        return 0
        """)

    let leaseTime: Duration
    let renewEvery: Duration
    /// This instance stops starting reads this long before its lease runs out in Redis: longer
    /// than a consumer's blocking read (500 ms), so every read of an old leader has ended
    /// before a new one can take the lease.
    let stopReadingBefore: Duration
    /// What an old leader left pending is idle at least this long when a new one takes over
    /// (see ``stopReadingBefore``), so the takeover gets it all, oldest first.
    var takeoverAfter: Duration { .milliseconds(250) }
    private let redis: RedisClient
    private let key: String
    private let instanceID: String
    private let logger: Logger
    private let state = Mutex(State())
    private let leaderGauge = Gauge(label: "iots_router_leader")

    init(runtime: ServiceRuntime, leaseTime: Duration = .seconds(3), renewEvery: Duration = .seconds(1), stopReadingBefore: Duration = .seconds(1)) {
        self.redis = runtime.redis
        self.key = runtime.keys.routerLeader
        self.instanceID = runtime.instanceID
        self.logger = runtime.logger
        self.leaseTime = leaseTime
        self.renewEvery = renewEvery
        self.stopReadingBefore = stopReadingBefore
    }

    func run() async {
        self.leaderGauge.record(0)
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            await self.claim()
            try? await Task.sleep(for: self.renewEvery)
        }
        await self.release()
    }

    func waitForTurn() async -> Int? {
        while !Task.isCancelled {
            let term = self.state.withLock { state -> Int? in
                guard let until = state.validUntil, ContinuousClock.now < until else { return nil }
                return state.term
            }
            if let term { return term }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }

    func holds(term: Int) -> Bool {
        self.state.withLock { state in
            guard state.term == term, let until = state.validUntil else { return false }
            return ContinuousClock.now < until
        }
    }

    /// Takes or extends the lease, or notes that another instance holds it.
    private func claim() async {
        let started = ContinuousClock.now
        let reply: Int
        do {
            reply = try await self.redis.evalsha(
                Self.claimScript, keys: [self.key], arguments: [.string(self.instanceID), .integer(Int(self.leaseTime / .milliseconds(1)))]
            ).int ?? 0
        } catch {
            // Reading stops by itself once the lease would have run out (see waitForTurn).
            let failures = self.state.withLock { state in
                state.failures += 1
                return state.failures
            }
            if failures == 1 || failures.isMultiple(of: 30) {
                self.logger.warning("router lease not renewed", metadata: ["error": "\(error)", "attempts": "\(failures)"])
            }
            return
        }
        let change = self.state.withLock { state -> Bool? in
            state.failures = 0
            let wasLeader = state.validUntil.map { ContinuousClock.now < $0 } ?? false
            if reply > 0 {
                state.validUntil = started + self.leaseTime - self.stopReadingBefore
                if !wasLeader { state.term += 1 }
            } else {
                state.validUntil = nil
            }
            let leading = reply > 0
            guard state.leading != leading else { return nil }
            state.leading = leading
            return leading
        }
        if let leading = change {
            self.leaderGauge.record(leading ? 1 : 0)
            self.logger.info(
                leading ? "router leading: consuming the router and telemetry streams" : "router standing by: another instance leads",
                metadata: ["lease": "\(self.key)"])
        }
    }

    /// Gives the lease back so a standby takes over at once (after the consumers stopped).
    private func release() async {
        self.state.withLock { state in
            state.validUntil = nil
            state.leading = false
        }
        self.leaderGauge.record(0)
        _ = try? await self.redis.evalsha(Self.releaseScript, keys: [self.key], arguments: [.string(self.instanceID)])
    }
}
