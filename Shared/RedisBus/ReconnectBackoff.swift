/// How long to wait between reconnect attempts: exponential, capped, with random jitter so a
/// fleet of instances does not hammer a recovering Redis in lockstep.
public struct ReconnectBackoff: Sendable, Hashable {
    /// The delay after the first failed attempt.
    public var initialDelay: Duration
    /// The largest delay, reached after a few failures and kept from then on.
    public var maximumDelay: Duration
    /// Growth factor per failed attempt (2 doubles the delay each time).
    public var multiplier: Double
    /// Random spread as a fraction of the delay: 0.2 picks uniformly within ±20 %.
    public var jitter: Double

    /// - Parameters:
    ///   - initialDelay: First delay, 50 ms by default.
    ///   - maximumDelay: Cap, 5 s by default.
    ///   - multiplier: Growth per attempt, 2 by default.
    ///   - jitter: Spread fraction in 0...1, 0.2 by default.
    public init(
        initialDelay: Duration = .milliseconds(50),
        maximumDelay: Duration = .seconds(5),
        multiplier: Double = 2,
        jitter: Double = 0.2
    ) {
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
        self.multiplier = max(1, multiplier)
        self.jitter = min(max(0, jitter), 1)
    }

    /// The delay before the next attempt after `failures` consecutive failed attempts (≥ 1).
    public func delay(afterFailures failures: Int) -> Duration {
        let initial = Self.seconds(self.initialDelay)
        let maximum = Self.seconds(self.maximumDelay)
        let exponent = Double(max(0, failures - 1))
        let base = min(maximum, initial * Self.power(self.multiplier, exponent))
        let spread = self.jitter > 0 ? Double.random(in: -self.jitter...self.jitter) : 0
        return .seconds(max(0, min(maximum, base * (1 + spread))))
    }

    private static func seconds(_ duration: Duration) -> Double {
        let components = duration.components
        return Double(components.seconds) + Double(components.attoseconds) / 1e18
    }

    /// `base` raised to `exponent`, stopping once past any realistic cap (no Foundation `pow`).
    private static func power(_ base: Double, _ exponent: Double) -> Double {
        var result = 1.0
        var remaining = exponent
        while remaining >= 1, result < 1e9 {
            result *= base
            remaining -= 1
        }
        return result
    }
}

extension Duration {
    /// Whole milliseconds, for log metadata (`retryInMs`).
    var wholeMilliseconds: Int64 {
        let components = self.components
        return components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}
