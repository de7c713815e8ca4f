import Messaging
import ServiceLifecycle
import Synchronization

/// The calls of this instance waiting for the router's reply, by correlation ID, each with its
/// deadline.
///
/// A lock, not an actor: replies are handed over on the event loop of the reply reader
/// (``ReplyStreamReader``), which resumes the waiting HTTP handlers from there directly, and
/// a call costs no task beyond its own. A waiter is a closure, so an async handler
/// (``wait(for:until:send:)``) and a channel handler answering on its event loop
/// (``register(_:until:send:resume:)``, see ``DirectCallHandler``) wait the same way.
/// Deadlines are enforced by ``run()``, which expires the calls past theirs every 50 ms (a
/// timer task per call cost more than the call's routing).
///
/// Shutdown: started before the server, so it stops after it; calls still waiting then are
/// answered as expired.
final class PendingCalls: Service, Sendable {
    /// How a wait ended.
    enum Outcome: Sendable {
        /// The router's reply.
        case reply(APIReply)
        /// The deadline passed (or the caller went away) without a reply.
        case expired
        /// The call never reached the router stream (the reason).
        case notSent(String)
    }

    private struct Waiter {
        var resume: @Sendable (Outcome) -> Void
        var deadline: ContinuousClock.Instant
    }

    private let waiters = Mutex<[String: Waiter]>([:])
    private let metrics: HTTPAPIMetrics
    private let sweepEvery: Duration

    /// - Parameter sweepEvery: How often deadlines are checked: a call expires up to this late.
    init(metrics: HTTPAPIMetrics, sweepEvery: Duration = .milliseconds(50)) {
        self.metrics = metrics
        self.sweepEvery = sweepEvery
    }

    /// Registers `correlation`, calls `send` (which gets a closure to report that the call could
    /// not be sent), and waits for the reply until `deadline`. Registration comes first, so a
    /// reply cannot arrive before its waiter. A cancelled caller stops waiting at once.
    func wait(
        for correlation: String,
        until deadline: ContinuousClock.Instant,
        send: (_ failed: @escaping @Sendable (_ reason: String) -> Void) -> Void
    ) async -> Outcome {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Outcome, Never>) in
                guard !Task.isCancelled else {
                    continuation.resume(returning: .expired)
                    return
                }
                self.register(correlation, until: deadline, send: send) { continuation.resume(returning: $0) }
            }
        } onCancel: {
            self.finish(correlation, .expired)
        }
    }

    /// Registers `correlation`, then calls `send` as ``wait(for:until:send:)`` does; `resume`
    /// is called exactly once with the outcome, on whichever thread ends the wait (the reply
    /// reader's event loop, the Redis client's on a failed send, the sweeper's task at the
    /// deadline).
    func register(
        _ correlation: String,
        until deadline: ContinuousClock.Instant,
        send: (_ failed: @escaping @Sendable (_ reason: String) -> Void) -> Void,
        resume: @escaping @Sendable (Outcome) -> Void
    ) {
        let count = self.waiters.withLock { waiters in
            waiters[correlation] = Waiter(resume: resume, deadline: deadline)
            return waiters.count
        }
        self.metrics.callsWaiting.record(count)
        send { reason in
            self.finish(correlation, .notSent(reason))
        }
    }

    /// Resumes the callers the replies are for and returns how many matched no waiting call
    /// (late, or for a previous process of this instance).
    @discardableResult
    func deliver(_ replies: [APIReply]) -> Int {
        var resumed: [(Waiter, APIReply)] = []
        let count = self.waiters.withLock { waiters in
            for reply in replies {
                if let waiter = waiters.removeValue(forKey: reply.correlation) {
                    resumed.append((waiter, reply))
                }
            }
            return waiters.count
        }
        self.metrics.callsWaiting.record(count)
        for (waiter, reply) in resumed {
            waiter.resume(.reply(reply))
        }
        return replies.count - resumed.count
    }

    /// Expires every call whose deadline is at or before `now`.
    func expire(dueBy now: ContinuousClock.Instant) {
        self.expire { $0.deadline <= now }
    }

    private func expire(where isDue: (Waiter) -> Bool) {
        var expired: [Waiter] = []
        let count = self.waiters.withLock { waiters in
            for (correlation, waiter) in waiters where isDue(waiter) {
                waiters[correlation] = nil
                expired.append(waiter)
            }
            return waiters.count
        }
        guard !expired.isEmpty else { return }
        self.metrics.callsWaiting.record(count)
        for waiter in expired {
            waiter.resume(.expired)
        }
    }

    /// Enforces the deadlines until the graceful shutdown, then expires what still waits.
    func run() async {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: self.sweepEvery)
                self.expire(dueBy: .now)
            }
        }
        self.expire { _ in true }
    }

    private func finish(_ correlation: String, _ outcome: Outcome) {
        let (waiter, count) = self.waiters.withLock { waiters in
            (waiters.removeValue(forKey: correlation), waiters.count)
        }
        guard let waiter else { return }
        self.metrics.callsWaiting.record(count)
        waiter.resume(outcome)
    }
}
