import Synchronization

/// A counting semaphore bounding the deliveries in flight to one endpoint.
///
/// async-http-client queues without limit, so the gate is what keeps a slow central from
/// piling up work: callers wait here (first come, first served) and the backlog stays in Redis.
///
/// A `Mutex` rather than an actor: it is taken twice per delivery on the hot path, and the
/// cancellation handler must remove a waiter synchronously.
final class InFlightGate: Sendable {
    private struct Waiter {
        var id: UInt64
        var continuation: CheckedContinuation<Bool, Never>
    }

    private struct State {
        var inUse = 0
        var waiters: [Waiter] = []
        var nextID: UInt64 = 0
        /// Waits allocated but not yet resolved (granted or cancelled).
        var unresolved: Set<UInt64> = []
        /// Waits cancelled before their continuation was stored.
        var cancelledEarly: Set<UInt64> = []
    }

    /// The most holders at once.
    let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// Slots currently held.
    var inUse: Int { self.state.withLock { $0.inUse } }

    /// Waits for a slot.
    /// - Returns: true with a slot held (give it back with ``release()``); false when the task
    ///   was cancelled while waiting (no slot held).
    func acquire() async -> Bool {
        let ticket: UInt64? = self.state.withLock { state in
            if state.inUse < self.capacity && state.waiters.isEmpty {
                state.inUse += 1
                return nil
            }
            let id = state.nextID
            state.nextID += 1
            state.unresolved.insert(id)
            return id
        }
        guard let id = ticket else { return true }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let immediate: Bool? = self.state.withLock { state in
                    if state.cancelledEarly.remove(id) != nil {
                        state.unresolved.remove(id)
                        return false
                    }
                    if state.inUse < self.capacity && state.waiters.isEmpty {
                        state.unresolved.remove(id)
                        state.inUse += 1
                        return true
                    }
                    state.waiters.append(Waiter(id: id, continuation: continuation))
                    return nil
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            let waiter: Waiter? = self.state.withLock { state in
                if let index = state.waiters.firstIndex(where: { $0.id == id }) {
                    state.unresolved.remove(id)
                    return state.waiters.remove(at: index)
                }
                if state.unresolved.contains(id) { state.cancelledEarly.insert(id) }
                return nil
            }
            waiter?.continuation.resume(returning: false)
        }
    }

    /// Gives a slot back, handing it straight to the longest waiter if any.
    func release() {
        let next: Waiter? = self.state.withLock { state in
            if state.waiters.isEmpty {
                state.inUse -= 1
                return nil
            }
            let waiter = state.waiters.removeFirst()
            state.unresolved.remove(waiter.id)
            return waiter
        }
        next?.continuation.resume(returning: true)
    }
}
