import RedisBus

/// Reads and writes webhook applications' status records in Redis (see ``ApplicationStatus``).
///
/// The dispatchers register the configured applications, add what they did in batches
/// (``record(_:for:)``) and apply operators' enable/disable; http-api reads the records for
/// `GET /applications`. Every write is one script, so instances writing at once never lose
/// each other's counts, and "last" times only move forward.
public struct ApplicationStatusStore: Sendable {
    /// What one dispatcher did for an application since its last report.
    public struct Activity: Sendable, Equatable {
        public var delivered = 0
        public var failed = 0
        public var retried = 0
        public var deadLettered = 0
        public var lastAttemptAtMilliseconds: Int?
        public var lastSuccessAtMilliseconds: Int?
        public var lastErrorAtMilliseconds: Int?
        public var lastError: String?

        public init() {}

        /// Whether there is nothing to report.
        public var isEmpty: Bool { self.lastAttemptAtMilliseconds == nil && self.retried == 0 && self.deadLettered == 0 }
    }

    private let redis: any RedisCommandExecutor
    private let keys: KeySpace

    public init(redis: any RedisCommandExecutor, keys: KeySpace) {
        self.redis = redis
        self.keys = keys
    }

    /// Registers `application` as configured with `url`. A URL other than the stored one is a
    /// new application: its record starts over (Provisioned, counters at zero).
    public func register(
        _ application: WebhookApplication, url: String, inactiveAfterMilliseconds: Int, nowMilliseconds: Int
    ) async throws {
        _ = try await self.redis.evalsha(
            Self.registerScript,
            keys: [self.keys.webhookApplication(application), self.keys.webhookApplications],
            arguments: [.string(url), .integer(nowMilliseconds), .integer(inactiveAfterMilliseconds), .string(application.rawValue)])
    }

    /// Removes `application` from the configured set (its record stays for inspection).
    public func unregister(_ application: WebhookApplication) async throws {
        try await self.redis.send(["SREM", .string(self.keys.webhookApplications), .string(application.rawValue)])
    }

    /// The record of `application`; nil when it is not registered.
    public func status(of application: WebhookApplication) async throws -> ApplicationStatus? {
        ApplicationStatus(application: application, fields: try await self.redis.hgetall(self.keys.webhookApplication(application)))
    }

    /// The records of every configured application, in ``WebhookApplication`` order.
    public func statuses() async throws -> [ApplicationStatus] {
        let members = try await self.redis.send(["SMEMBERS", .string(self.keys.webhookApplications)])
        let names = Set((members.array ?? []).compactMap(\.string))
        var result: [ApplicationStatus] = []
        for application in WebhookApplication.allCases where names.contains(application.rawValue) {
            if let status = try await self.status(of: application) {
                result.append(status)
            }
        }
        return result
    }

    /// Disables or enables `application`.
    /// - Returns: false when the application is not registered (nothing changed).
    @discardableResult
    public func setDisabled(_ disabled: Bool, _ application: WebhookApplication, nowMilliseconds: Int) async throws -> Bool {
        let reply = try await self.redis.evalsha(
            Self.disableScript, keys: [self.keys.webhookApplication(application)],
            arguments: [disabled ? "1" : "0", .integer(nowMilliseconds)])
        return reply.int == 1
    }

    /// Adds one dispatcher's activity to the record (no-op when the application is not
    /// registered, e.g. Redis restarted empty and registration has not run again yet).
    public func record(_ activity: Activity, for application: WebhookApplication) async throws {
        guard !activity.isEmpty else { return }
        _ = try await self.redis.evalsha(
            Self.recordScript, keys: [self.keys.webhookApplication(application)],
            arguments: [
                .integer(activity.delivered), .integer(activity.failed), .integer(activity.retried), .integer(activity.deadLettered),
                .integer(activity.lastAttemptAtMilliseconds ?? 0), .integer(activity.lastSuccessAtMilliseconds ?? 0),
                .integer(activity.lastErrorAtMilliseconds ?? 0), .string(activity.lastError ?? ""),
            ])
    }

    /// Adds `count` to the replayed counter.
    public func recordReplay(_ count: Int, for application: WebhookApplication) async throws {
        guard count > 0 else { return }
        _ = try await self.redis.hincrby(self.keys.webhookApplication(application), field: "replayed", by: count)
    }

    // KEYS: application hash, set of applications. ARGV: url, now, inactiveAfterMs, name.
    private static let registerScript = RedisScript(
        """
        if redis.call('HGET', KEYS[1], 'url') ~= ARGV[1] then
          redis.call('DEL', KEYS[1])
          redis.call('HSET', KEYS[1], 'url', ARGV[1], 'provisionedAt', ARGV[2], 'disabled', '0')
        end
        redis.call('HSET', KEYS[1], 'inactiveAfterMs', ARGV[3])
        redis.call('SADD', KEYS[2], ARGV[4])
        return 1
        """)

    // KEYS: application hash. ARGV: '1' or '0', now.
    private static let disableScript = RedisScript(
        """
        if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
        redis.call('HSET', KEYS[1], 'disabled', ARGV[1])
        if ARGV[1] == '1' then redis.call('HSET', KEYS[1], 'disabledAt', ARGV[2]) end
        return 1
        """)

    // KEYS: application hash. ARGV: delivered, failed, retried, deadLettered, lastAttemptAt,
    // lastSuccessAt, lastErrorAt (0 = none), lastError.
    private static let recordScript = RedisScript(
        """
        if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
        local counters = {'delivered', 'failed', 'retried', 'deadLettered'}
        for i, name in ipairs(counters) do
          if tonumber(ARGV[i]) > 0 then redis.call('HINCRBY', KEYS[1], name, ARGV[i]) end
        end
        local times = {'lastAttemptAt', 'lastSuccessAt', 'lastErrorAt'}
        for i, name in ipairs(times) do
          local value = tonumber(ARGV[4 + i])
          if value > 0 and value > tonumber(redis.call('HGET', KEYS[1], name) or '0') then
            redis.call('HSET', KEYS[1], name, ARGV[4 + i])
            if name == 'lastErrorAt' then redis.call('HSET', KEYS[1], 'lastError', ARGV[8]) end
          end
        end
        return 1
        """)
}
