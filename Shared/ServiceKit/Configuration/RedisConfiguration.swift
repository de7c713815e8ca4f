import RedisBus

/// How every service reaches the shared Redis.
///
/// Keys (additive `Redis` object): `URL` ("redis://127.0.0.1:6379", or `unix:///path` for a
/// Unix socket; `IOTS_REDIS_URL`),
/// `KeyPrefix` ("iots:"; `IOTS_KEY_PREFIX`: lets several concentrators share one Redis),
/// `StreamMaxLength` (100000: approximate `MAXLEN` of every stream).
public struct RedisConfiguration: Sendable, Equatable {
    public var url = "redis://127.0.0.1:6379"
    public var keyPrefix = "iots:"
    public var streamMaxLength = 100_000

    public init() {}

    /// The forms `Redis.URL` takes, for configuration errors.
    public static let urlForms = "redis://[[user]:password@]host[:port][/db] or unix://[[user]:password@]/path[?db=N]"

    /// What is wrong with `url` (the URL with its password hidden, and why), or nil when it
    /// is usable.
    static func problem(with url: String) -> String? {
        do {
            _ = try RedisURL(url)
            return nil
        } catch RedisError.invalidURL(let shown, let reason) {
            return "\"\(shown)\" (\(reason))"
        } catch {
            return "\"\(url)\" (\(error))"
        }
    }
}

extension RedisConfiguration: Decodable {
    public init(from decoder: any Decoder) throws {
        let keys = try decoder.container(keyedBy: ConfigurationKey.self)
        self.init()
        self.url = try keys.value("URL", default: self.url)
        if let problem = Self.problem(with: self.url) {
            throw keys.invalid("URL", expected: Self.urlForms, found: problem)
        }
        self.keyPrefix = try keys.value("KeyPrefix", default: self.keyPrefix)
        self.streamMaxLength = try keys.integer("StreamMaxLength", default: self.streamMaxLength, in: 100...100_000_000)
        keys.warnAboutUnknownKeys(known: ["URL", "KeyPrefix", "StreamMaxLength"], decoder: decoder)
    }
}
