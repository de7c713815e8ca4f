import Messaging
import Synchronization

/// What this instance knows and does about one application between two reports to Redis:
/// whether it is disabled (refreshed from Redis every second, set at once by this instance's
/// admin actions) and the activity not yet added to its status record.
///
/// A `Mutex`: every delivery reports here on the hot path; nothing awaits while holding it.
final class ApplicationTracker: Sendable {
    private struct State {
        var disabled = false
        /// Bumped by each local enable/disable, so a Redis read that started before it cannot
        /// undo it.
        var generation = 0
        var activity = ApplicationStatusStore.Activity()
    }

    let application: WebhookApplication
    private let state = Mutex(State())

    init(application: WebhookApplication) {
        self.application = application
    }

    /// Whether sending is off (an operator disabled the application).
    var isDisabled: Bool { self.state.withLock { $0.disabled } }

    /// The count of local enable/disable actions, read before fetching the flag from Redis.
    var generation: Int { self.state.withLock { $0.generation } }

    /// Applies an operator's action taken on this instance.
    func setDisabled(_ disabled: Bool) {
        self.state.withLock { state in
            state.disabled = disabled
            state.generation += 1
        }
    }

    /// Applies the flag read from Redis, unless a local action happened since `generation`
    /// was read (the read may predate it).
    func syncDisabled(_ disabled: Bool, readAfter generation: Int) {
        self.state.withLock { state in
            if state.generation == generation { state.disabled = disabled }
        }
    }

    /// A 2xx answer (with a valid body, for request webhooks).
    func recordSuccess(atMilliseconds now: Int) {
        self.state.withLock { state in
            state.activity.delivered += 1
            state.activity.lastAttemptAtMilliseconds = now
            state.activity.lastSuccessAtMilliseconds = now
        }
    }

    /// An attempt that failed with `error`.
    func recordFailure(_ error: String, atMilliseconds now: Int) {
        self.state.withLock { state in
            state.activity.failed += 1
            state.activity.lastAttemptAtMilliseconds = now
            state.activity.lastErrorAtMilliseconds = now
            state.activity.lastError = error
        }
    }

    /// Retries scheduled and messages dead-lettered.
    func recordScheduling(retries: Int, deadLettered: Int) {
        guard retries > 0 || deadLettered > 0 else { return }
        self.state.withLock { state in
            state.activity.retried += retries
            state.activity.deadLettered += deadLettered
        }
    }

    /// Takes the activity to report, leaving an empty one.
    func takeActivity() -> ApplicationStatusStore.Activity {
        self.state.withLock { state in
            defer { state.activity = ApplicationStatusStore.Activity() }
            return state.activity
        }
    }

    /// Puts back activity whose report failed, so the next report carries it.
    func restoreActivity(_ activity: ApplicationStatusStore.Activity) {
        self.state.withLock { state in
            state.activity.delivered += activity.delivered
            state.activity.failed += activity.failed
            state.activity.retried += activity.retried
            state.activity.deadLettered += activity.deadLettered
            state.activity.lastAttemptAtMilliseconds = Self.later(state.activity.lastAttemptAtMilliseconds, activity.lastAttemptAtMilliseconds)
            state.activity.lastSuccessAtMilliseconds = Self.later(state.activity.lastSuccessAtMilliseconds, activity.lastSuccessAtMilliseconds)
            if state.activity.lastErrorAtMilliseconds == nil {
                state.activity.lastErrorAtMilliseconds = activity.lastErrorAtMilliseconds
                state.activity.lastError = activity.lastError
            }
        }
    }

    private static func later(_ a: Int?, _ b: Int?) -> Int? {
        switch (a, b) {
        case (let a?, let b?): max(a, b)
        default: a ?? b
        }
    }
}
