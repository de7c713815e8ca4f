/// Slows down repeated failed logins from one address: each failure after the first within
/// `forgetAfter` delays the refusal twice as long as the previous one, up to `maximumDelay`.
///
/// Only refusals are delayed, so a well-behaved device behind the same NAT is never slowed.
/// Memory is bounded: at most `capacity` addresses are remembered; when full, quiet addresses
/// are forgotten first, then arbitrary ones (an attacker rotating addresses gains nothing from
/// this table anyway).
actor LoginThrottle {
    private struct Record {
        var failures: Int
        var lastFailure: ContinuousClock.Instant
    }

    let baseDelay: Duration
    let maximumDelay: Duration
    let forgetAfter: Duration
    let capacity: Int
    private var records: [String: Record] = [:]

    init(
        baseDelay: Duration = .milliseconds(100),
        maximumDelay: Duration = .seconds(2),
        forgetAfter: Duration = .seconds(60),
        capacity: Int = 10_000
    ) {
        self.baseDelay = baseDelay
        self.maximumDelay = maximumDelay
        self.forgetAfter = forgetAfter
        self.capacity = max(1, capacity)
    }

    /// Records one failed login from `address` and returns how long to wait before refusing it.
    func recordFailure(from address: String) -> Duration {
        let now = ContinuousClock.now
        var record = Record(failures: 0, lastFailure: now)
        if let known = self.records[address], now - known.lastFailure < self.forgetAfter {
            record = known
        } else if self.records[address] == nil, self.records.count >= self.capacity {
            self.makeRoom(now: now)
        }
        record.failures += 1
        record.lastFailure = now
        self.records[address] = record
        return self.delay(afterFailures: record.failures)
    }

    /// The number of addresses remembered (for tests and diagnostics).
    var trackedAddresses: Int { self.records.count }

    private func delay(afterFailures failures: Int) -> Duration {
        guard failures > 1 else { return .zero }
        let doublings = min(failures - 2, 16)
        let delay = self.baseDelay * (1 << doublings)
        return min(delay, self.maximumDelay)
    }

    private func makeRoom(now: ContinuousClock.Instant) {
        self.records = self.records.filter { now - $0.value.lastFailure < self.forgetAfter }
        guard self.records.count >= self.capacity else { return }
        // Still full of recent failures: forget a quarter, whichever they are.
        let excess = self.records.count - self.capacity * 3 / 4
        for key in self.records.keys.prefix(excess) {
            self.records[key] = nil
        }
    }
}
