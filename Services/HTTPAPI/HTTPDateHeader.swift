#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// The `Date` response header's value (RFC 9110 IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`),
/// formatted at most once a second, for the responses ``DirectCallHandler`` writes itself
/// (Hummingbird adds the header to the others).
///
/// Formatted by hand rather than with `strftime`, whose day and month names follow the
/// process's locale.
final class HTTPDateHeader: Sendable {
    private let cached = Mutex<(second: Int, text: String)>((second: -1, text: ""))

    init() {}

    /// The header's value for the current second.
    var now: String {
        let second = time(nil)
        return self.cached.withLock { cached in
            if cached.second != second {
                cached = (second, Self.format(second))
            }
            return cached.text
        }
    }

    /// `seconds` since the Unix epoch as an IMF-fixdate.
    static func format(_ seconds: Int) -> String {
        var clock = time_t(seconds)
        var parts = tm()
        gmtime_r(&clock, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func twoDigits(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(days[Int(parts.tm_wday)]), \(twoDigits(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(twoDigits(parts.tm_hour)):\(twoDigits(parts.tm_min)):\(twoDigits(parts.tm_sec)) GMT"
    }
}
