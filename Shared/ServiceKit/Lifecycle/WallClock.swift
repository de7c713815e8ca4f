#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Unix time, as stored in Redis for deadlines and events shared between instances.
///
/// Deadlines compared across processes need a shared clock: every host must run NTP (which
/// Redis-based coordination assumes anyway); in-process timing uses `ContinuousClock`.
public enum WallClock {
    /// Milliseconds since the Unix epoch.
    public static func milliseconds() -> Int {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int(now.tv_sec) * 1000 + Int(now.tv_nsec) / 1_000_000
    }
}

extension Duration {
    /// The duration in whole nanoseconds (for swift-metrics timers).
    public var wholeNanoseconds: Int64 {
        let (seconds, attoseconds) = self.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
