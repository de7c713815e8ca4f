/// How every service reaches the shared Redis.
///
/// Keys (additive `Redis` object): `URL` ("redis://127.0.0.1:6379"; `IOTS_REDIS_URL`),
/// `KeyPrefix` ("iots:"; `IOTS_KEY_PREFIX`: lets several concentrators share one Redis),
/// `StreamMaxLength` (100000: approximate `MAXLEN` of every stream).
public struct RedisConfiguration: Sendable, Equatable {
    public var url = "redis://127.0.0.1:6379"
    public var keyPrefix = "iots:"
    public var streamMaxLength = 100_000

    public init() {}
}

extension RedisConfiguration: Decodable {
    public init(from decoder: any Decoder) throws {
        let keys = try decoder.container(keyedBy: ConfigurationKey.self)
        self.init()
        self.url = try keys.value("URL", default: self.url)
        guard self.url.hasPrefix("redis://") else {
            throw keys.invalid("URL", expected: "redis://[:password@]host:port[/db]", found: "\"\(self.url)\"")
        }
        self.keyPrefix = try keys.value("KeyPrefix", default: self.keyPrefix)
        self.streamMaxLength = try keys.integer("StreamMaxLength", default: self.streamMaxLength, in: 100...100_000_000)
        keys.warnAboutUnknownKeys(known: ["URL", "KeyPrefix", "StreamMaxLength"], decoder: decoder)
    }
}
