import Foundation
import IoTSocket
import Messaging
import RedisBus
import TestSupport

/// A private concentrator for routing tests: a real redis-server, one router and two gateways
/// (A and B, different ports and instance ids), all real processes.
final class RoutingHarness: @unchecked Sendable {
    // @unchecked: every property is set in `start` and only read afterwards.
    let redis: TestRedis
    let stack: TestStack
    let client: RedisClient
    let router: ServiceProcess
    let gatewayA: ServiceProcess
    let gatewayB: ServiceProcess
    let portA: Int
    let portB: Int
    let keys: KeySpace

    static let centralKey = try! AuthKey(hex: TestStack.centralKeyHex)

    /// The two objects the routing suites use: `ObjTest` in `Sensors` (telemetry on) and
    /// `PLC-7` in `PLC` (telemetry off), and the ACL holding both.
    static let sensorKey = try! AuthKey(hex: "00112233445566778899aabbccddeeff")
    static let plcKey = try! AuthKey(hex: "ffeeddccbbaa99887766554433221100")
    static let sensor = try! UID("ObjTest")
    static let plc = try! UID("PLC-7")
    static let acl = [
        ACLEntry(group: try! GroupName("Sensors"), uid: sensor, key: sensorKey),
        ACLEntry(group: try! GroupName("PLC"), uid: plc, key: plcKey),
    ]

    private init(
        redis: TestRedis, stack: TestStack, client: RedisClient, router: ServiceProcess, gatewayA: ServiceProcess,
        gatewayB: ServiceProcess, portB: Int
    ) {
        self.redis = redis
        self.stack = stack
        self.client = client
        self.router = router
        self.gatewayA = gatewayA
        self.gatewayB = gatewayB
        self.portA = stack.tcpPort
        self.portB = portB
        self.keys = KeySpace(prefix: stack.keyPrefix)
    }

    /// Starts redis, the router and two gateways with `keepSessionSeconds` and
    /// `requestTimeoutSeconds`; groups `Sensors` (telemetry, 60 min tokens) and `PLC` (none).
    static func start(keepSessionSeconds: Int = 3, requestTimeoutSeconds: Int = 2) async throws -> RoutingHarness {
        let redis = try await TestRedis.start()
        let stack = try TestStack(
            redisURL: redis.url,
            settings: [
                "KeepSessionSec": keepSessionSeconds,
                "TCPServer": ["ReqTimeoutSec": requestTimeoutSeconds] as [String: any Sendable],
                "Groups": [
                    "Sensors": ["Telemetry": true, "TelemetryTokenExpMin": 60] as [String: any Sendable],
                    "PLC": ["Telemetry": false] as [String: any Sendable],
                ] as [String: any Sendable],
            ])
        let client = try RedisClient(url: redis.url)
        let router = try await stack.startReady("router", environment: ["IOTS_INSTANCE_ID": "router-1"])
        let gatewayA = try await stack.startReady("tcp-gateway", environment: ["IOTS_INSTANCE_ID": "gw-a"])
        let portB = try FreePort.tcp()
        let adminB = try FreePort.tcp()
        let gatewayB = try await stack.startReady(
            "tcp-gateway",
            environment: ["IOTS_INSTANCE_ID": "gw-b", "IOTS_TCP_PORT": "\(portB)", "IOTS_ADMIN_PORT": "\(adminB)"])
        return RoutingHarness(
            redis: redis, stack: stack, client: client, router: router, gatewayA: gatewayA, gatewayB: gatewayB, portB: portB)
    }

    /// Stops every process (gracefully, so their exits are checked elsewhere) and Redis.
    func stop() async {
        for process in [self.gatewayA, self.gatewayB, self.router] {
            _ = await process.stop(timeout: .seconds(5))
        }
        await self.client.close()
        self.redis.stop()
    }

    /// Everything the processes printed, for failure messages.
    var output: String {
        [self.router, self.gatewayA, self.gatewayB].map { "=== \($0.name) \($0.pid)\n\($0.output)" }.joined(separator: "\n")
    }

    /// Logs the central in on `port` and pushes `entries` as the ACL over its session, then waits
    /// until the router applied it.
    func central(on port: Int, pushing entries: [ACLEntry]? = nil, maxTransmissionLength: UInt16 = 0) async throws -> TestElement {
        let central = try await TestElement.connect(
            host: "127.0.0.1", port: port, uid: .central, key: Self.centralKey, maxTransmissionLength: maxTransmissionLength)
        if let entries {
            try await central.send(.acl(entries))
            try await self.waitFor("ACL applied") {
                (try? await self.client.send(["HLEN", .string(self.keys.acl)]).int) == entries.count
            }
        }
        return central
    }

    /// Logs `uid` in on `port` and waits until the router has its session online.
    func login(_ uid: UID, key: AuthKey, on port: Int) async throws -> TestElement {
        let element = try await TestElement.connect(host: "127.0.0.1", port: port, uid: uid, key: key)
        try await self.waitForSession(uid, "online")
        return element
    }

    /// Polls `condition` every 20 ms for at most `timeout`.
    func waitFor(_ what: String, timeout: Duration = .seconds(10), _ condition: @Sendable () async -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if await condition() { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestSupportError.timeout("\(what)\n\(self.output)")
    }

    /// Waits until the Prometheus `sample` (`name{labels}`) of `service` (the router, or
    /// gateway A as `tcp-gateway`) reads `value`.
    func waitForMetric(_ sample: String, _ value: Double, of service: String = "router") async throws {
        try await self.waitFor("\(service) metric \(sample) = \(value)") { await self.metric(sample, of: service) == value }
    }

    /// The current value of `service`'s Prometheus `sample`, nil when absent or unreachable.
    func metric(_ sample: String, of service: String = "router") async -> Double? {
        guard let body = try? await AdminProbe.get(port: self.stack.adminPort(service), path: "/metrics").body else { return nil }
        let line = body.split(separator: "\n").first { $0.hasPrefix(sample + " ") }
        return line.flatMap { Double($0.split(separator: " ").last ?? "") }
    }

    /// The session state the router recorded for `uid` (`online`, `kept`, or nil).
    func sessionState(_ uid: UID) async -> String? {
        try? await self.client.hgetString(self.keys.session(uid), field: "state")
    }

    /// Waits until the router recorded `uid` in `state` (the login was processed).
    func waitForSession(_ uid: UID, _ state: String?) async throws {
        try await self.waitFor("session of \(uid) is \(state ?? "gone")") { await self.sessionState(uid) == state }
    }
}
