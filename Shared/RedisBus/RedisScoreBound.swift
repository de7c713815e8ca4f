/// One end of a score range for `ZRANGEBYSCORE`.
///
/// Numeric literals are inclusive bounds: `zrangebyscore(key, min: 0, max: 1_700_000_000)`.
public enum RedisScoreBound: Sendable, Hashable, ExpressibleByFloatLiteral, ExpressibleByIntegerLiteral {
    /// Scores equal to the value are included.
    case inclusive(Double)
    /// Scores equal to the value are excluded (`(value`).
    case exclusive(Double)
    /// Below every score (`-inf`).
    case negativeInfinity
    /// Above every score (`+inf`).
    case positiveInfinity

    /// An inclusive bound.
    public init(floatLiteral value: Double) {
        self = .inclusive(value)
    }

    /// An inclusive bound.
    public init(integerLiteral value: Int) {
        self = .inclusive(Double(value))
    }

    /// The bound as Redis spells it.
    var argument: RedisArgument {
        switch self {
        case .inclusive(let value): return .string(RedisArgument.format(value))
        case .exclusive(let value): return .string("(" + RedisArgument.format(value))
        case .negativeInfinity: return "-inf"
        case .positiveInfinity: return "+inf"
        }
    }
}
