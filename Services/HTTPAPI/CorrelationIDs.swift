import Synchronization

/// Correlation IDs for this process's calls to the router: a random prefix drawn at start and
/// a counter, e.g. `3f9c0a1b77e2d4c5-1842`.
///
/// Why not `UUID()`: on Linux Foundation opens, reads and closes `/dev/urandom` for every UUID,
/// three system calls per HTTP call. An ID only has to be unique among the replies that can
/// reach this instance's stream; the prefix keeps a restarted process (same instance id, same
/// stream) from matching a reply meant for its predecessor, and the counter does not repeat
/// within a process.
final class CorrelationIDs: Sendable {
    private let prefix: String
    private let counter = Atomic<UInt64>(0)

    init() {
        var generator = SystemRandomNumberGenerator()
        let random = generator.next() as UInt64
        let hex = String(random, radix: 16)
        self.prefix = String(repeating: "0", count: 16 - hex.count) + hex + "-"
    }

    /// A new ID, different from every other this process has made.
    func next() -> String {
        let number = self.counter.wrappingAdd(1, ordering: .relaxed).newValue
        return self.prefix + String(number)
    }
}
