/// The one configuration file every service reads (`--config FILE`).
///
/// It accepts the reference concentrator's `config.json` as-is (`PoolThreadsCount`,
/// `KeepSessionSec`, `TCPServer`, `HTTPServer`, `UDPServer`, `Central`, `Groups`) plus additive
/// keys: `ACLFile` (a reference `acl.json` seeding the ACL at start, relative to this file),
/// `Redis`, `Admin`, `Log` (`Level`: trace…critical, default info). Each section's type lists
/// its keys and defaults; `README.md` has the full reference. Environment variables override
/// the file, see `applyingEnvironment(_:)`.
public struct ConcentratorConfiguration: Sendable, Equatable {
    /// Threads of the event loop group (reference `PoolThreadsCount`; default: one per core).
    public var threadCount: Int?
    /// What `KeepSessionSec` (and `IOTS_KEEP_SESSION_SEC`) accept: up to 30 days.
    static let keepSessionRange = 0...(30 * 86_400)

    /// How long a disconnected or sleeping element's session is kept (reference `KeepSessionSec`).
    public var keepSessionSeconds = 60
    public var tcpServer = TCPServerConfiguration()
    public var httpServer = HTTPServerConfiguration()
    public var udpServer = UDPServerConfiguration()
    public var central = CentralConfiguration()
    /// Groups by name; an object whose group is absent here gets no telemetry.
    public var groups: [String: GroupConfiguration] = [:]
    /// The reference-format ACL file loaded into Redis when the router starts, if any.
    public var aclFile: String?
    public var redis = RedisConfiguration()
    public var admin = AdminConfiguration()
    public var logLevel = "info"
    /// This process's instance id (`IOTS_INSTANCE_ID`; default: host name and process id).
    /// It names the instance's own streams, so it must be unique among running instances.
    public var instanceID: String?

    public init() {}

    /// The group's settings, or the defaults (no telemetry) for a group the file does not name.
    public func group(_ name: String) -> GroupConfiguration {
        self.groups[name] ?? GroupConfiguration()
    }
}

extension ConcentratorConfiguration: Decodable {
    static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    public init(from decoder: any Decoder) throws {
        let keys = try decoder.container(keyedBy: ConfigurationKey.self)
        self.init()
        if keys.contains(ConfigurationKey("PoolThreadsCount")) {
            self.threadCount = try keys.integer("PoolThreadsCount", default: 1, in: 1...1024)
        }
        self.keepSessionSeconds = try keys.integer("KeepSessionSec", default: self.keepSessionSeconds, in: Self.keepSessionRange)
        self.tcpServer = try keys.value("TCPServer", default: self.tcpServer)
        self.httpServer = try keys.value("HTTPServer", default: self.httpServer)
        self.udpServer = try keys.value("UDPServer", default: self.udpServer)
        self.central = try keys.value("Central", default: self.central)
        self.groups = try keys.value("Groups", default: [String: GroupConfiguration]())
        for name in self.groups.keys where name.utf8.count > 16 || name.isEmpty {
            throw keys.invalid("Groups", expected: "group names of 1 to 16 UTF-8 bytes", found: "\"\(name)\"")
        }
        self.aclFile = try keys.fileName("ACLFile")
        self.redis = try keys.value("Redis", default: self.redis)
        self.admin = try keys.value("Admin", default: self.admin)
        if keys.contains(ConfigurationKey("Log")) {
            let log = try keys.nestedContainer(keyedBy: ConfigurationKey.self, forKey: ConfigurationKey("Log"))
            self.logLevel = try log.value("Level", default: self.logLevel).lowercased()
            guard Self.logLevels.contains(self.logLevel) else {
                throw log.invalid("Level", expected: "one of \(Self.logLevels.joined(separator: ", "))", found: "\"\(self.logLevel)\"")
            }
            log.warnAboutUnknownKeys(known: ["Level"], decoder: decoder)
        }
        keys.warnAboutUnknownKeys(
            known: [
                "PoolThreadsCount", "KeepSessionSec", "TCPServer", "HTTPServer", "UDPServer", "Central", "Groups", "ACLFile",
                "Redis", "Admin", "Log",
            ],
            decoder: decoder)
    }
}
