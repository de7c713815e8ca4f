import Messaging

/// The HTTP calls of this instance waiting for the router's reply, by correlation id.
///
/// A call is registered before its message goes to the router, so a reply that arrives before
/// the caller starts waiting is kept rather than lost. Each call ends exactly once: with its
/// reply (``deliver(_:)``) or with nil when its deadline passes (``expire(_:)``) or its message
/// could not be sent (``cancel(_:)``). Replies nobody waits for (the call already timed out, or
/// a previous process with this instance id made it) are counted and dropped.
actor PendingCalls {
    private enum Slot {
        /// Registered, the caller not yet waiting.
        case registered
        /// The caller is suspended in ``wait(for:)``.
        case waiting(CheckedContinuation<APIReply?, Never>)
        /// The reply came before the caller started waiting.
        case answered(APIReply)
    }

    private var slots: [String: Slot] = [:]
    private let metrics: HTTPAPIMetrics

    init(metrics: HTTPAPIMetrics) {
        self.metrics = metrics
    }

    /// Starts tracking `correlation`; call before sending the message that names it.
    func register(_ correlation: String) {
        self.slots[correlation] = .registered
        self.metrics.callsWaiting.record(self.slots.count)
    }

    /// Suspends until the reply for `correlation` arrives, or returns nil once it expired or
    /// was cancelled (also when it was never registered).
    func wait(for correlation: String) async -> APIReply? {
        switch self.slots[correlation] {
        case .answered(let reply):
            self.remove(correlation)
            return reply
        case .registered:
            return await withCheckedContinuation { continuation in
                self.slots[correlation] = .waiting(continuation)
            }
        case .waiting, nil:
            // A second waiter would orphan the first continuation; treat it as expired.
            return nil
        }
    }

    /// Resumes the callers of the replies in `replies` that are still waiting.
    /// - Returns: how many replies matched no call.
    @discardableResult
    func deliver(_ replies: [APIReply]) -> Int {
        var unmatched = 0
        for reply in replies {
            switch self.slots[reply.correlation] {
            case .registered:
                self.slots[reply.correlation] = .answered(reply)
            case .waiting(let continuation):
                self.remove(reply.correlation)
                continuation.resume(returning: reply)
            case .answered, nil:
                unmatched += 1
            }
        }
        return unmatched
    }

    /// Ends the call with no reply (its deadline passed).
    func expire(_ correlation: String) {
        self.end(correlation)
    }

    /// Ends the call with no reply (its message could not be sent).
    func cancel(_ correlation: String) {
        self.end(correlation)
    }

    private func end(_ correlation: String) {
        guard let slot = self.slots[correlation] else { return }
        self.remove(correlation)
        if case .waiting(let continuation) = slot {
            continuation.resume(returning: nil)
        }
    }

    private func remove(_ correlation: String) {
        self.slots[correlation] = nil
        self.metrics.callsWaiting.record(self.slots.count)
    }
}
