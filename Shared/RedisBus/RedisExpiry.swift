/// A time to live for `SET … EX|PX`.
public enum RedisExpiry: Sendable, Hashable {
    /// Expire after this many seconds (`EX`).
    case seconds(Int)
    /// Expire after this many milliseconds (`PX`).
    case milliseconds(Int)

    /// The `EX n` / `PX n` arguments.
    var arguments: [RedisArgument] {
        switch self {
        case .seconds(let seconds): return ["EX", .integer(seconds)]
        case .milliseconds(let milliseconds): return ["PX", .integer(milliseconds)]
        }
    }
}
