import Foundation

/// A configuration for a private concentrator on free ports, and the processes started with it.
///
/// Every port (TCP, UDP, HTTP, each service's admin port) is chosen free on 127.0.0.1, so
/// tests run in parallel without clashing.
public struct TestStack: Sendable {
    public let redisURL: String
    public let configPath: String
    public let tcpPort: Int
    public let udpPort: Int
    public let httpPort: Int
    public let adminPorts: [String: Int]
    public let keyPrefix: String

    /// The central's key in every test configuration.
    public static let centralKeyHex = "000102030405060708090a0b0c0d0e0f"

    /// Writes a configuration; `settings` are merged over the defaults, section by section
    /// (`["TCPServer": ["ReqTimeoutSec": 2]]` keeps the section's other defaults).
    public init(redisURL: String, settings: [String: any Sendable] = [:]) throws {
        self.redisURL = redisURL
        self.tcpPort = try FreePort.tcp()
        self.udpPort = try FreePort.tcp()
        self.httpPort = try FreePort.tcp()
        var adminPorts: [String: Int] = [:]
        for service in ["router", "tcp-gateway", "udp-telemetry", "http-api", "webhook-dispatcher", "remote-sync"] {
            adminPorts[service] = try FreePort.tcp()
        }
        self.adminPorts = adminPorts
        self.keyPrefix = "t\(UUID().uuidString.prefix(8)):"
        var document: [String: Any] = [
            "KeepSessionSec": 60,
            "TCPServer": ["Addr": "127.0.0.1", "Port": self.tcpPort, "ReqTimeoutSec": 5],
            "HTTPServer": ["Addr": "127.0.0.1", "Port": self.httpPort],
            "UDPServer": ["Addr": "127.0.0.1", "Port": self.udpPort],
            "Central": ["AuthKey": Self.centralKeyHex],
            "Redis": ["URL": redisURL, "KeyPrefix": self.keyPrefix],
            "Admin": ["Addr": "127.0.0.1", "Ports": adminPorts],
            "Log": ["Level": "debug"],
        ]
        for (key, value) in settings {
            if var section = document[key] as? [String: Any], let overrides = value as? [String: any Sendable] {
                section.merge(overrides) { _, new in new }
                document[key] = section
            } else {
                document[key] = value
            }
        }
        let data = try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys])
        self.configPath = try Self.writeFile(String(decoding: data, as: UTF8.self))
    }

    public func adminPort(_ service: String) -> Int {
        self.adminPorts[service]!
    }

    /// Starts `service` with this configuration.
    public func start(_ service: String, environment: [String: String] = [:]) throws -> ServiceProcess {
        try ServiceProcess(service, arguments: ["--config", self.configPath], environment: environment)
    }

    /// Starts `service` and waits until its `/ready` answers 200.
    public func startReady(_ service: String, environment: [String: String] = [:]) async throws -> ServiceProcess {
        let process = try self.start(service, environment: environment)
        try await process.waitUntilReady(adminPort: environment["IOTS_ADMIN_PORT"].flatMap { Int($0) } ?? self.adminPort(service))
        return process
    }

    /// Writes `text` to a new file in its own temporary folder; returns the path.
    public static func writeFile(_ text: String, name: String = "config.json") throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("iots-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let file = folder.appendingPathComponent(name)
        try Data(text.utf8).write(to: file)
        return file.path
    }
}
