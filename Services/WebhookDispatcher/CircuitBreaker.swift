import Synchronization

/// A per-endpoint circuit breaker: after consecutive failures it stops sending for a while,
/// then lets one probe through; the probe's success closes it, its failure reopens it for
/// twice as long (up to a cap).
///
/// Failures are what say the endpoint is unwell (5xx, 429, timeouts, connection failures); a
/// 4xx answer proves it is up and counts as success here. A `Retry-After` on a failure opens
/// the circuit at least that long, since the central asked for a pause of the whole endpoint.
///
/// A `Mutex`: consulted twice per delivery on the hot path, never across an await.
final class CircuitBreaker: Sendable {
    /// What a caller may do now.
    enum Permit: Sendable, Equatable {
        /// Send.
        case allowed
        /// Send, as the single probe of a half-open circuit; report its result with `probe: true`.
        case probe
        /// Do not send; the circuit should be consulted again after `retryIn`.
        case rejected(retryIn: Duration)
    }

    /// The circuit's phase, exported as a metric (0 closed, 1 half-open, 2 open).
    enum Phase: Int, Sendable {
        case closed = 0
        case halfOpen = 1
        case open = 2
    }

    private struct State {
        var consecutiveFailures = 0
        var openUntil: ContinuousClock.Instant?
        var openDuration: Duration
        var probeInFlight = false
    }

    private let failureThreshold: Int
    private let initialOpenDuration: Duration
    private let maxOpenDuration: Duration
    private let state: Mutex<State>

    /// - Parameters:
    ///   - failureThreshold: consecutive failures that open the circuit.
    ///   - openDuration: the first open period.
    ///   - maxOpenDuration: the cap on an open period (doubling, and `Retry-After`).
    init(failureThreshold: Int = 5, openDuration: Duration = .seconds(2), maxOpenDuration: Duration = .seconds(60)) {
        self.failureThreshold = failureThreshold
        self.initialOpenDuration = openDuration
        self.maxOpenDuration = maxOpenDuration
        self.state = Mutex(State(openDuration: openDuration))
    }

    /// Whether a delivery may be sent at `now`.
    func permit(at now: ContinuousClock.Instant = .now) -> Permit {
        self.state.withLock { state in
            guard let until = state.openUntil else { return .allowed }
            if now < until { return .rejected(retryIn: until - now) }
            if state.probeInFlight { return .rejected(retryIn: .seconds(1)) }
            state.probeInFlight = true
            return .probe
        }
    }

    /// Reports that the endpoint answered (2xx or 4xx).
    func recordSuccess(probe: Bool) {
        self.state.withLock { state in
            state.consecutiveFailures = 0
            state.openUntil = nil
            state.openDuration = self.initialOpenDuration
            if probe { state.probeInFlight = false }
        }
    }

    /// Reports a failure; `retryAfter` is the central's requested pause, if it gave one.
    func recordFailure(probe: Bool, retryAfter: Duration? = nil, at now: ContinuousClock.Instant = .now) {
        self.state.withLock { state in
            state.consecutiveFailures += 1
            let pause = retryAfter.map { min($0, self.maxOpenDuration) }
            if probe {
                state.probeInFlight = false
                state.openDuration = min(state.openDuration * 2, self.maxOpenDuration)
                state.openUntil = now + max(state.openDuration, pause ?? .zero)
            } else if let pause, pause > .zero {
                state.openUntil = max(state.openUntil ?? now, now + pause)
            } else if state.openUntil == nil && state.consecutiveFailures >= self.failureThreshold {
                state.openUntil = now + state.openDuration
            }
        }
    }

    /// The phase at `now`.
    func phase(at now: ContinuousClock.Instant = .now) -> Phase {
        self.state.withLock { state in
            guard let until = state.openUntil else { return .closed }
            return now < until ? .open : .halfOpen
        }
    }
}
