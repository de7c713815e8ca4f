import Foundation
import IoTSocket
import Messaging
import RedisBus
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
        // The gauge follows Redis by itself, before anything probes /ready.
        var gauge = ""
        for _ in 0..<40 where !gauge.contains("iots_redis_up 0") {
            try await Task.sleep(for: .milliseconds(250))
            gauge = try await AdminProbe.get(port: stack.adminPort("router"), path: "/metrics").body
        }
        #expect(gauge.contains("iots_redis_up 0"))
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

    @Test("--check-config loads what the service loads at start: TLS files that load and match, the central key")
    func checkConfigLoadsStartupFiles() async throws {
        func check(_ service: String, _ json: String) async throws -> ServiceProcess {
            let path = try TestStack.writeFile(json)
            let process = try ServiceProcess(service, arguments: ["--config", path, "--check-config"])
            #expect(await process.waitForExit(timeout: .seconds(10)))
            return process
        }
        let missing = "/nonexistent/iots-test/server.pem"
        let gateway = try await check("tcp-gateway", #"{"TCPServer": {"SSLCrtFilename": "\#(missing)", "SSLKeyFilename": "/nonexistent/k.pem"}}"#)
        #expect(gateway.exitStatus == 78)
        #expect(gateway.output.contains("TCPServer.SSLCrtFilename \"\(missing)\""), "\(gateway.output)")
        #expect(!gateway.output.contains("configuration OK"))

        let noKey = try await check("http-api", #"{"HTTPServer": {"Port": 18080}}"#)
        #expect(noKey.exitStatus == 78)
        #expect(noKey.output.contains("Central.AuthKey: required"), "\(noKey.output)")

        // A key from another certificate: the pair loads but does not match.
        let first = try TestCertificate.makeSelfSigned()
        let second = try TestCertificate.makeSelfSigned()
        let central = #""Central": {"AuthKey": "000102030405060708090a0b0c0d0e0f"}"#
        let mismatched = try await check(
            "http-api",
            #"{\#(central), "HTTPServer": {"SSLCrtFilename": "\#(first.certificatePath)", "SSLKeyFilename": "\#(second.keyPath)"}}"#)
        #expect(mismatched.exitStatus == 78)
        #expect(mismatched.output.contains("HTTPServer.SSLKeyFilename \"\(second.keyPath)\": does not match"), "\(mismatched.output)")

        let good = try await check(
            "http-api", #"{\#(central), "HTTPServer": {"SSLCrtFilename": "\#(first.certificatePath)", "SSLKeyFilename": "\#(first.keyPath)"}}"#)
        #expect(good.exitStatus == 0, "\(good.output)")
        #expect(good.output.contains("configuration OK"))
    }

    @Test("PoolThreadsCount sets the event loop threads of a service")
    func poolThreadsCount() async throws {
        let redis = try await TestRedis.start()
        defer { redis.stop() }
        for threads in [1, 3] {
            let stack = try TestStack(redisURL: redis.url, settings: ["PoolThreadsCount": threads])
            let gateway = try await stack.startReady("tcp-gateway")
            defer { gateway.kill() }
            let names = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(gateway.pid)/task").map {
                (try? String(contentsOfFile: "/proc/\(gateway.pid)/task/\($0)/comm", encoding: .utf8)) ?? ""
            }
            // NIO names its event loop threads NIO-ELT-<group>-#<n>, the singleton group's NIO-SGLTN-<group>-#<n>.
            let loops = names.filter { $0.hasPrefix("NIO-SGLTN-") || $0.hasPrefix("NIO-ELT-") }
            #expect(loops.count == threads, "\(names)")
            #expect(await gateway.stop() == 0)
        }
    }

    @Test("ACLFile seeds the ACL when Redis holds none, never over one the central changed since; a bad file names its entry")
    func aclFileSeeds() async throws {
        let redis = try await TestRedis.start()
        defer { redis.stop() }
        let aclFile = try TestStack.writeFile(
            #"{"ObjTest": {"GroupName": "Sensors", "AuthKey": "00112233445566778899aabbccddeeff"}, "PLC-7": {"GroupName": "PLC", "AuthKey": "FFEEDDCCBBAA99887766554433221100"}}"#,
            name: "acl.json")
        let stack = try TestStack(redisURL: redis.url, settings: ["ACLFile": aclFile])
        let client = try RedisClient(url: redis.url)
        let aclKey = KeySpace(prefix: stack.keyPrefix).acl

        var router = try await stack.startReady("router")
        #expect(try await client.send(["HLEN", .string(aclKey)]).int == 2)
        let gateway = try await stack.startReady("tcp-gateway")
        let device = try await TestElement.connect(
            host: "127.0.0.1", port: stack.tcpPort, uid: try UID("PLC-7"), key: try AuthKey(hex: "ffeeddccbbaa99887766554433221100"))
        await device.close(code: .maintenance)
        #expect(await router.stop() == 0)

        // The central changed the ACL since (one entry left): a restart keeps the change.
        _ = try await client.send(["HDEL", .string(aclKey), .string(try UID("ObjTest").hex)])
        router = try await stack.startReady("router")
        #expect(try await client.send(["HLEN", .string(aclKey)]).int == 1)
        #expect(router.output.contains("ACL already in Redis; ACLFile not applied"))
        #expect(await router.stop() == 0)
        #expect(await gateway.stop() == 0)

        let badFile = try TestStack.writeFile(#"{"Pump": {"GroupName": "PLC", "AuthKey": "12345"}}"#, name: "acl.json")
        let badStack = try TestStack(redisURL: redis.url, settings: ["ACLFile": badFile])
        let refused = try badStack.start("router")
        defer { refused.kill() }
        #expect(await refused.waitForExit(timeout: .seconds(10)))
        #expect(refused.exitStatus == 78)
        #expect(refused.output.contains(badFile))
        #expect(refused.output.contains("Pump.AuthKey"), "\(refused.output)")
        await client.close()
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
