import IoTSocket

extension ConcentratorConfiguration {
    /// The environment variables that override the file, with the key each replaces.
    public static let environmentOverrides: [(variable: String, key: String)] = [
        ("IOTS_REDIS_URL", "Redis.URL"),
        ("IOTS_KEY_PREFIX", "Redis.KeyPrefix"),
        ("IOTS_INSTANCE_ID", "(instance id)"),
        ("IOTS_ADMIN_ADDR", "Admin.Addr"),
        ("IOTS_ADMIN_PORT", "Admin.Ports.<this service>"),
        ("IOTS_LOG_LEVEL", "Log.Level"),
        ("IOTS_CENTRAL_AUTHKEY", "Central.AuthKey"),
        ("IOTS_KEEP_SESSION_SEC", "KeepSessionSec"),
        ("IOTS_TCP_PORT", "TCPServer.Port"),
        ("IOTS_UDP_PORT", "UDPServer.Port"),
        ("IOTS_HTTP_PORT", "HTTPServer.Port"),
        ("IOTS_WEBHOOK_REQUEST_URL", "Central.WebHooks.Request"),
        ("IOTS_WEBHOOK_TELEMETRY_URL", "Central.WebHooks.Telemetry"),
    ]

    /// Applies every `IOTS_…` variable present in `environment` (empty values are ignored).
    /// - Throws: `ConfigurationError` with source `environment` naming the variable.
    public mutating func applyEnvironment(_ environment: [String: String]) throws(ConfigurationError) {
        func value(_ name: String) -> String? {
            guard let value = environment[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
            return value
        }
        func port(_ name: String) throws(ConfigurationError) -> Int? {
            guard let text = value(name) else { return nil }
            guard let port = Int(text), (1...65535).contains(port) else {
                throw ConfigurationError(source: "environment", key: name, expected: "an integer 1–65535", found: "\"\(text)\"")
            }
            return port
        }
        if let url = value("IOTS_REDIS_URL") {
            if let problem = RedisConfiguration.problem(with: url) {
                throw ConfigurationError(source: "environment", key: "IOTS_REDIS_URL", expected: RedisConfiguration.urlForms, found: problem)
            }
            self.redis.url = url
        }
        if let prefix = value("IOTS_KEY_PREFIX") { self.redis.keyPrefix = prefix }
        if let id = value("IOTS_INSTANCE_ID") {
            guard id.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
                throw ConfigurationError(
                    source: "environment", key: "IOTS_INSTANCE_ID", expected: "letters, digits, '-', '_' or '.'", found: "\"\(id)\"")
            }
            self.instanceID = id
        }
        if let address = value("IOTS_ADMIN_ADDR") { self.admin.address = address }
        if let adminPort = try port("IOTS_ADMIN_PORT") { self.admin.portOverride = adminPort }
        if let level = value("IOTS_LOG_LEVEL")?.lowercased() {
            guard Self.logLevels.contains(level) else {
                throw ConfigurationError(
                    source: "environment", key: "IOTS_LOG_LEVEL", expected: "one of \(Self.logLevels.joined(separator: ", "))",
                    found: "\"\(level)\"")
            }
            self.logLevel = level
        }
        if let hex = value("IOTS_CENTRAL_AUTHKEY") {
            guard let key = try? AuthKey(hex: hex) else {
                throw ConfigurationError(
                    source: "environment", key: "IOTS_CENTRAL_AUTHKEY", expected: "32 hexadecimal digits", found: "\(hex.count) characters")
            }
            self.central.authKey = key
        }
        if let text = value("IOTS_KEEP_SESSION_SEC") {
            guard let seconds = Int(text), Self.keepSessionRange.contains(seconds) else {
                throw ConfigurationError(
                    source: "environment", key: "IOTS_KEEP_SESSION_SEC", expected: "an integer 0–\(Self.keepSessionRange.upperBound)",
                    found: "\"\(text)\"")
            }
            self.keepSessionSeconds = seconds
        }
        if let tcpPort = try port("IOTS_TCP_PORT") { self.tcpServer.port = tcpPort }
        if let udpPort = try port("IOTS_UDP_PORT") { self.udpServer.port = udpPort }
        if let httpPort = try port("IOTS_HTTP_PORT") { self.httpServer.port = httpPort }
        if let url = value("IOTS_WEBHOOK_REQUEST_URL") { self.central.webHooks.requestURL = url }
        if let url = value("IOTS_WEBHOOK_TELEMETRY_URL") { self.central.webHooks.telemetryURL = url }
    }
}
