import Synchronization

extension StreamReader {
    /// Ends a reader once it was asked to and its stream has stayed quiet for ``quietPeriod``:
    /// an instance shutting down reads what others were still appending for it (the router
    /// goes on routing to sessions until it learns that they closed) instead of leaving it
    /// unread.
    ///
    /// Quiet is measured from the request or from the last entries delivered, whichever is
    /// later, and checked when a read comes back empty: finishing takes between the period and
    /// the period plus one ``Configuration-swift.struct/block``. Bound the whole by cancelling.
    public final class Finish: Sendable {
        private struct State {
            /// Set by the request, then moved on by each delivery; nil until requested.
            var quietSince: ContinuousClock.Instant?
            var done = false
        }

        /// How long the stream must stay quiet after the request.
        public let quietPeriod: Duration
        private let state = Mutex(State())

        /// - Parameter quietPeriod: How long without entries ends the reader once requested.
        public init(quietPeriod: Duration) {
            self.quietPeriod = quietPeriod
        }

        /// Asks the reader to finish once the stream is quiet; later calls change nothing.
        public func request() {
            self.state.withLock { state in
                if state.quietSince == nil {
                    state.quietSince = .now
                }
            }
        }

        /// Whether it was requested.
        public var isRequested: Bool { self.state.withLock { $0.quietSince != nil } }

        /// Whether the reader finished (or is finishing) because of it.
        public var isDone: Bool { self.state.withLock { $0.done } }

        /// Entries were delivered: the quiet starts again, once requested.
        func entriesDelivered() {
            self.state.withLock { state in
                if state.quietSince != nil {
                    state.quietSince = .now
                }
            }
        }

        /// A read came back empty: true, and done from now on, when it was requested and the
        /// stream has been quiet long enough.
        func finishIfQuiet() -> Bool {
            self.state.withLock { state in
                guard let quietSince = state.quietSince else { return false }
                if !state.done && ContinuousClock.now - quietSince >= self.quietPeriod {
                    state.done = true
                }
                return state.done
            }
        }
    }
}
