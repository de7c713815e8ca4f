import Foundation
import IoTSocket

/// When a failed telemetry delivery is tried again, and when it is given up.
///
/// Attempt *n* (counting failures) waits `base × 2^(n−1)`, capped at `maxDelay`, times a jitter
/// of ±20 % so devices whose messages failed together do not come back together; a
/// `Retry-After` longer than that is honoured (up to `maxDelay`). The jitter is fixed per
/// device (derived from its UID, the same on every instance): one device's messages that fail
/// in order are then due in order, which keeps its order across retries. A message is dead-lettered when the next attempt
/// would come more than `maxAge` after its first failure, or after `maxAttempts` failures
/// (when not 0). With the defaults (10 s, 6 h, 3 days): 10 s, 20 s, 40 s, 80 s, 160 s, 5 min,
/// 11 min, 21 min, 43 min, 85 min, 2.8 h, 5.7 h, then every 6 h until three days have passed
/// — about 22 attempts.
struct RetrySchedule: Sendable {
    var base: Duration
    var maxDelay: Duration
    var maxAge: Duration
    var maxAttempts: Int

    /// The delay before the next attempt after `failures` failed ones (≥ 1).
    /// - Parameter jitterSeed: the device's ``jitterSeed(for:)``.
    func delay(afterFailures failures: Int, retryAfter: Duration? = nil, jitterSeed: UInt64) -> Duration {
        let exponent = min(max(failures - 1, 0), 30)
        let plain = min(self.base * (1 << exponent), self.maxDelay)
        let jittered = plain * (0.8 + 0.4 * Double(jitterSeed % 1024) / 1023)
        guard let retryAfter else { return jittered }
        return max(jittered, min(retryAfter, self.maxDelay))
    }

    /// Whether a message that failed `failures` times, first at `firstFailure` (Unix ms), is
    /// given up rather than tried again at `nextAttempt` (Unix ms).
    func isExhausted(failures: Int, firstFailureMilliseconds: Int, nextAttemptMilliseconds: Int) -> Bool {
        if self.maxAttempts > 0 && failures >= self.maxAttempts { return true }
        return nextAttemptMilliseconds - firstFailureMilliseconds > self.maxAge.inMilliseconds
    }

    /// A stable number for `uid` (FNV-1a of its bytes): the same on every instance and run,
    /// unlike `Hasher`.
    static func jitterSeed(for uid: UID) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in uid.wireBytes {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        return hash
    }

    /// Parses a `Retry-After` value: delay seconds, or an HTTP date.
    static func retryAfter(_ value: String, now: Date = Date()) -> Duration? {
        let text = value.trimmingCharacters(in: .whitespaces)
        if let seconds = Int(text) { return seconds >= 0 ? .seconds(seconds) : nil }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: text) else { return nil }
        return .milliseconds(max(0, Int(date.timeIntervalSince(now) * 1000)))
    }
}

extension Duration {
    /// The duration in whole milliseconds.
    var inMilliseconds: Int {
        let (seconds, attoseconds) = self.components
        return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
    }
}
