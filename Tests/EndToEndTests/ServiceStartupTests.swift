import Foundation
import Testing
import TestSupport

/// Every executable starts from a configuration file, reports ready only with Redis reachable,
/// serves its admin endpoints, refuses a broken configuration naming the key, and stops
/// gracefully on SIGTERM.
@Suite("Service processes start, serve admin endpoints and stop")
struct ServiceStartupTests {
    static let services = ["router", "tcp-gateway", "udp-telemetry", "http-api", "webhook-dispatcher", "remote-sync"]

    @Test("ready with Redis, metrics served, SIGTERM exits 0", arguments: services)
    func lifecycle(service: String) async throws {
        let redis = try await TestRedis.start()
        defer { redis.stop() }
        let stack = try TestStack(redisURL: redis.url)
        let process = try stack.start(service)
        defer { process.kill() }
        try await process.waitUntilReady(adminPort: stack.adminPort(service))

        let health = try await AdminProbe.get(port: stack.adminPort(service), path: "/health")
        #expect(health.status == 200)
        #expect(health.body.contains(service))
        let metrics = try await AdminProbe.get(port: stack.adminPort(service), path: "/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.header("content-type")?.hasPrefix("text/plain") == true)
        #expect(metrics.body.contains("iots_service_info{"))
        #expect(metrics.body.contains("iots_redis_up 1"))

        let status = await process.stop()
        #expect(status == 0, "\(service) output:\n\(process.output)")
        #expect(process.output.contains("msg=stopped"))
    }

    @Test("not ready while Redis is unreachable, ready once it is back")
    func readinessFollowsRedis() async throws {
        let redis = try await TestRedis.start()
        defer { redis.stop() }
        let stack = try TestStack(redisURL: redis.url)
        let process = try stack.start("router")
        defer { process.kill() }
        try await process.waitUntilReady(adminPort: stack.adminPort("router"))

        redis.stop()
        let down = try await AdminProbe.get(port: stack.adminPort("router"), path: "/ready")
        #expect(down.status == 503)
        #expect(down.body.contains("redis"))
        let health = try await AdminProbe.get(port: stack.adminPort("router"), path: "/health")
        #expect(health.status == 200)

        try await redis.restart(empty: true)
        try await process.waitUntilReady(adminPort: stack.adminPort("router"))
        #expect(await process.stop() == 0)
    }

    @Test("a broken configuration fails at once, naming the file and the key", arguments: services)
    func brokenConfiguration(service: String) async throws {
        let path = try TestStack.writeFile(#"{"TCPServer": {"Port": "fifty"}}"#)
        let process = try ServiceProcess(service, arguments: ["--config", path])
        defer { process.kill() }
        #expect(await process.waitForExit(timeout: .seconds(10)))
        #expect(process.exitStatus == 78)
        #expect(process.output.contains(path))
        #expect(process.output.contains("key \"TCPServer.Port\": expected an integer"))
    }

    @Test("--check-config validates without starting; --help documents the options")
    func commandLine() async throws {
        let path = try TestStack.writeFile(#"{"KeepSesionSec": 5}"#)
        let check = try ServiceProcess("router", arguments: ["--config", path, "--check-config"])
        #expect(await check.waitForExit(timeout: .seconds(10)))
        #expect(check.exitStatus == 0)
        #expect(check.output.contains("unknown key \"KeepSesionSec\""))
        #expect(check.output.contains("configuration OK"))

        for service in Self.services {
            let help = try ServiceProcess(service, arguments: ["--help"])
            #expect(await help.waitForExit(timeout: .seconds(10)))
            #expect(help.exitStatus == 0)
            #expect(help.output.contains("--config"))
            #expect(help.output.contains("IOTS_REDIS_URL"))
        }
    }
}
