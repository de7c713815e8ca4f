import AsyncHTTPClient
import Foundation
import IoTSocket
import Messaging
import NIOCore
import NIOHTTP1
import RedisBus
import Testing
import TestSupport

/// Issue 6's acceptance: webhook-dispatcher against a real local HTTP sink, with real Redis,
/// router, gateway and dispatcher processes.
@Suite("Webhooks to the central", .serialized)
struct WebhookTests {
    static let plcKey = try! AuthKey(hex: "ffeeddccbbaa99887766554433221100")
    static let plc = try! UID("PLC-7")
    static let sensorA = try! UID("Sensor-A")
    static let sensorB = try! UID("Sensor-B")
    static let bearer = "Bearer \(TestStack.centralKeyHex)"

    // MARK: Request webhooks

    @Test("device request → request webhook → the central's answer back at the device with the same tracking number")
    func requestRoundTrip() async throws {
        let harness = try await WebhookHarness.start(request: true, telemetry: false, withRouter: true)
        do {
            harness.sink.reply(.ok(#"{"Code": 0, "Payload": {"t": 21.5, "unit": "C"}, "Format": "JSON"}"#), path: "/request")
            let device = try await harness.connectDevice()
            let question = try PayloadBlock(format: .json, data: Array(#"{"get":["t"]}"#.utf8))
            try await device.send(.request(uid: nil, tracking: 4242, payload: question))
            let answer = try PayloadBlock(format: .json, data: Array(#"{"t":21.5,"unit":"C"}"#.utf8))
            #expect(try await device.receive(timeout: .seconds(5)) == .response(uid: nil, tracking: 4242, code: .valid, payload: answer))

            let received = harness.sink.received(path: "/request")
            #expect(received.count == 1)
            #expect(received.first?.headers["authorization"] == Self.bearer)
            #expect(received.first?.headers["content-type"] == "application/json")
            #expect(received.first?.bodyText == #"{"UID":"PLC-7","Payload":{"get":["t"]},"Format":"JSON"}"#)

            // Any code and a binary payload go through unchanged.
            harness.sink.reply(.ok(#"{"Code": 5, "Payload": [1, 2, 255], "Format": "BINARY"}"#), path: "/request")
            try await device.send(.request(uid: nil, tracking: 7, payload: try PayloadBlock(format: .ascii, data: Array("st?".utf8))))
            #expect(
                try await device.receive(timeout: .seconds(5))
                    == .response(uid: nil, tracking: 7, code: ResponseCode(5), payload: try PayloadBlock(format: .binary, data: [1, 2, 255])))
            #expect(harness.sink.received(path: "/request").last?.bodyText == #"{"UID":"PLC-7","Payload":"st?","Format":"ASCII"}"#)
            await device.close()
        } catch {
            Issue.record("\(error)\n\(harness.output)")
        }
        await harness.stop()
    }

    @Test("sink answers 500, bad JSON, a redirect, or too late → the device gets 0x01 in time")
    func requestFailuresAnswerNotValid() async throws {
        let harness = try await WebhookHarness.start(request: true, telemetry: false, withRouter: true, settings: ["MaxSecWaitResponse": 2])
        do {
            let device = try await harness.connectDevice()
            let payload = try PayloadBlock(format: .utf8, data: Array("état?".utf8))
            let cases: [(String, WebhookSink.Reply, Duration)] = [
                ("500", WebhookSink.Reply(status: 500, body: "oops"), .milliseconds(1500)),
                ("bad JSON", .ok("{not json"), .milliseconds(1500)),
                ("bad format", .ok(#"{"Code": 0, "Payload": 12, "Format": "ASCII"}"#), .milliseconds(1500)),
                ("redirect", WebhookSink.Reply(status: 302, headers: ["Location": harness.sink.url("/telemetry")]), .milliseconds(1500)),
                // Deadline 2 s; the router's own fallback comes 1 s later, so ≤ 2.8 s is the dispatcher's.
                ("timeout", WebhookSink.Reply(status: 200, body: #"{"Code":0}"#, delay: .seconds(6)), .milliseconds(2800)),
            ]
            for (index, (name, reply, limit)) in cases.enumerated() {
                harness.sink.reply(reply, path: "/request")
                let tracking = UInt16(10 + index)
                let before = harness.sink.received(path: "/request").count
                let sent = ContinuousClock.now
                try await device.send(.request(uid: nil, tracking: tracking, payload: payload))
                let response = try await device.receive(timeout: .seconds(5))
                let elapsed = ContinuousClock.now - sent
                #expect(response == .response(uid: nil, tracking: tracking, code: .notValid, payload: .empty), "case \(name)")
                #expect(elapsed <= limit, "case \(name): answered after \(elapsed)")
                // Exactly one attempt (no retry for these; the redirect is not followed).
                #expect(harness.sink.received(path: "/request").count == before + 1, "case \(name)")
                #expect(harness.sink.received(path: "/telemetry").isEmpty, "case \(name)")
            }
            await device.close()
        } catch {
            Issue.record("\(error)\n\(harness.output)")
        }
        await harness.stop()
    }

    @Test("nothing listening at the request URL: retried while time remains, then 0x01 before the deadline")
    func requestConnectionRefused() async throws {
        let closedPort = try FreePort.tcp()
        let harness = try await WebhookHarness.start(
            request: true, telemetry: false, withRouter: true,
            settings: ["MaxSecWaitResponse": 2, "Request": "http://127.0.0.1:\(closedPort)/request"])
        do {
            let device = try await harness.connectDevice()
            let sent = ContinuousClock.now
            try await device.send(.request(uid: nil, tracking: 99, payload: try PayloadBlock(format: .ascii, data: Array("x".utf8))))
            #expect(try await device.receive(timeout: .seconds(5)) == .response(uid: nil, tracking: 99, code: .notValid, payload: .empty))
            let elapsed = ContinuousClock.now - sent
            #expect(elapsed < .milliseconds(2500), "answered after \(elapsed)")
            try await harness.waitFor("refusals counted") {
                let metrics = (try? await harness.admin(.GET, "/metrics", authorization: nil).body) ?? ""
                return metrics.contains(#"iots_webhook_deliveries_total{application="request",outcome="connection_refused"} 3"#)
            }
            await device.close()
        } catch {
            Issue.record("\(error)\n\(harness.output)")
        }
        await harness.stop()
    }

    // MARK: Telemetry webhooks

    @Test("telemetry survives a sink failing for a while: all delivered once it recovers, per-device order kept")
    func telemetrySurvivesFailures() async throws {
        let harness = try await WebhookHarness.start(request: false, telemetry: true, settings: ["RetryBaseSec": 1])
        do {
            harness.sink.reply(WebhookSink.Reply(status: 503), path: "/telemetry")
            var expected: [UID: [String]] = [:]
            for index in 0..<30 {
                let uid = index % 2 == 0 ? Self.sensorA : Self.sensorB
                let text = "\(uid.string)#\(index)"
                expected[uid, default: []].append(text)
                try await harness.addTelemetry(uid: uid, text: text)
            }
            await harness.sink.waitForRequests(path: "/telemetry", count: 2)
            try await Task.sleep(for: .seconds(3))
            #expect(try await harness.applicationStatus(.telemetry)?.failed ?? 0 >= 1)
            harness.sink.reply(.ok(), path: "/telemetry")
            let delivered = try await harness.waitForDelivered(count: 30, timeout: .seconds(20))
            for uid in [Self.sensorA, Self.sensorB] {
                let order = delivered.filter { $0.hasPrefix(uid.string + "#") }
                #expect(order == expected[uid], "order of \(uid)")
            }
            #expect(Set(delivered).count == 30)
            #expect(try await harness.deadLetters().isEmpty)
            #expect(try await harness.client.zcard(harness.keys.webhookRetries(.telemetry)) == 0)
        } catch {
            Issue.record("\(error)\n\(harness.output)")
        }
        await harness.stop()
    }

    @Test("jobs no router wrote on the webhook streams are counted as malformed and acknowledged; the jobs around them are delivered")
    func foreignJobs() async throws {
        let harness = try await WebhookHarness.start(request: true, telemetry: true)
        do {
            try await harness.addTelemetry(uid: Self.sensorA, text: "before")
            let foreign: [[(name: String, value: RedisArgument)]] = [
                [("hello", .string("world"))],
                [("t", .string("telemetry")), ("uid", .string("not hex"))],
                [("t", .string("telemetry")), ("uid", .string(Self.sensorA.hex)), ("p", .bytes([0xFF]))],
            ]
            for fields in foreign {
                try await harness.client.xadd(harness.keys.webhookTelemetry, fields: fields)
                try await harness.client.xadd(harness.keys.webhookRequests, fields: fields)
            }
            // A well-formed telemetry job on the request stream is not a request either.
            let misplaced = WebhookJob.telemetry(
                uid: Self.sensorA, payload: try PayloadBlock(format: .utf8, data: Array("lost".utf8)), receivedAtMilliseconds: 0)
            try await harness.client.xadd(harness.keys.webhookRequests, fields: misplaced.fields)
            try await harness.addTelemetry(uid: Self.sensorA, text: "after")

            #expect(try await harness.waitForDelivered(count: 2) == ["before", "after"])
            for (application, count) in [("telemetry", foreign.count), ("request", foreign.count + 1)] {
                let sample = #"iots_webhook_deliveries_total{application="\#(application)",outcome="malformed"} \#(count)"#
                try await harness.waitFor(sample) {
                    let metrics = try? await AdminProbe.get(port: harness.stack.adminPort("webhook-dispatcher"), path: "/metrics").body
                    return metrics?.split(separator: "\n").contains { $0 == sample } ?? false
                }
            }
            for stream in [harness.keys.webhookTelemetry, harness.keys.webhookRequests] {
                try await harness.waitFor("\(stream) acknowledged") {
                    guard let groups = try? await harness.client.xinfoGroups(stream) else { return false }
                    return !groups.isEmpty && groups.allSatisfy { $0.pending == 0 }
                }
            }
            #expect(harness.sink.received(path: "/request").isEmpty)
        } catch {
            Issue.record("\(error)\n\(harness.output)")
        }
        await harness.stop()
    }

    @Test("a backlog larger than two batches: batches overlap, each device's messages still arrive in queue order")
    func overlappingBatchesKeepOrder() async throws {
        let harness = try await WebhookHarness.start(request: false, telemetry: true, startDispatcher: false)
        do {
            // 5 000 jobs from 8 devices, queued before the dispatcher starts: three batches of up
            // to 2 048, each holding a long chain for every device.
            let devices = try (0..<8).map { try UID("meter-\($0)") }
            var appends: [StreamAppend] = []
            for index in 0..<5_000 {
                let uid = devices[index % devices.count]
                let job = WebhookJob.telemetry(
                    uid: uid, payload: try PayloadBlock(format: .utf8, data: Array("\(uid.string)#\(index)".utf8)),
                    receivedAtMilliseconds: Int(Date().timeIntervalSince1970 * 1000))
                appends.append(StreamAppend(stream: harness.keys.webhookTelemetry, fields: job.fields))
            }
            _ = try await harness.client.xadd(appends)
            try await harness.startDispatcher(instance: "dispatcher-1")
            let delivered = try await harness.waitForDelivered(count: 5_000, timeout: .seconds(60))
            for (position, uid) in devices.enumerated() {
                let sent = stride(from: position, to: 5_000, by: devices.count).map { "\(uid.string)#\($0)" }
                #expect(delivered.filter { $0.hasPrefix(uid.string + "#") } == sent, "order of \(uid)")
            }
        } catch {
            Issue.record("\(error)\n\(harness.output)")
        }
        await harness.stop()
    }

    @Test("a 429 with Retry-After is honoured before the next attempt")
    func retryAfterHonoured() async throws {
        let harness = try await WebhookHarness.start(request: false, telemetry: true, settings: ["RetryBaseSec": 1])
        do {
            harness.sink.reply(WebhookSink.Reply(status: 429, headers: ["Retry-After": "3"]), path: "/telemetry")
            try await harness.addTelemetry(uid: Self.sensorA, text: "slow down")
            await harness.sink.waitForRequests(path: "/telemetry", count: 1)
            let first = ContinuousClock.now
            harness.sink.reply(.ok(), path: "/telemetry")
            let requests = await harness.sink.waitForRequests(path: "/telemetry", count: 2, timeout: .seconds(10))
            #expect(requests.count == 2)
            let gap = ContinuousClock.now - first
            #expect(gap >= .milliseconds(2800), "retried after \(gap)")
        } catch {
            Issue.record("\(error)\n\(harness.output)")
        }
        await harness.stop()
    }

    @Test("exhausted retries land in the dead-letter stream with the reason; replay delivers them")
    func deadLetterAndReplay() async throws {
        let harness = try await WebhookHarness.start(
            request: false, telemetry: true, settings: ["RetryBaseSec": 1, "RetryMaxAttempts": 3])
        do {
            harness.sink.reply(WebhookSink.Reply(status: 500), path: "/telemetry")
            try await harness.addTelemetry(uid: Self.sensorA, text: "doomed")
            try await harness.waitFor("dead letter", timeout: .seconds(15)) { (try? await harness.deadLetters().count) == 1 }
            let letters = try await harness.deadLetters()
            #expect(letters.first?.string("reason")?.contains("retries exhausted after 3 attempts: HTTP 500") == true)
            #expect(harness.sink.received(path: "/telemetry").count == 3)
            // Counts reach the status record with the dispatcher's next report (every second).
            try await harness.waitFor("dead letter counted") { (try? await harness.applicationStatus(.telemetry))??.deadLettered == 1 }
            #expect(try await harness.applicationStatus(.telemetry)?.failed == 3)

            // Replay: refused without the key, then delivered once the sink is healthy.
            #expect(try await harness.admin(.POST, "/applications/telemetry/replay", authorization: nil).status == 401)
            #expect(try await harness.admin(.POST, "/applications/nothing/replay").status == 404)
            harness.sink.reply(.ok(), path: "/telemetry")
            let replay = try await harness.admin(.POST, "/applications/telemetry/replay")
            #expect(replay.status == 200 && replay.body == #"{"Replayed":1}"#, "\(replay)")
            let delivered = try await harness.waitForDelivered(count: 1)
            #expect(delivered == ["doomed"])
            #expect(try await harness.deadLetters().isEmpty)
        } catch {
            Issue.record("\(error)\n\(harness.output)")
        }
        await harness.stop()
    }

    @Test("Standard Webhooks signatures verify with Python's hmac; webhook-id is stable across retries")
    func signatures() async throws {
        let secret = "whsec_" + Data("a test signing secret, 32 bytes!".utf8).base64EncodedString()
        let harness = try await WebhookHarness.start(
            request: false, telemetry: true, settings: ["RetryBaseSec": 1, "SigningSecret": secret])
        do {
            harness.sink.reply(WebhookSink.Reply(status: 500), path: "/telemetry")
            try await harness.addTelemetry(uid: Self.sensorA, text: "signed ✓")
            await harness.sink.waitForRequests(path: "/telemetry", count: 1)
            harness.sink.reply(.ok(), path: "/telemetry")
            let requests = await harness.sink.waitForRequests(path: "/telemetry", count: 2)
            #expect(requests.count == 2)
            let ids = Set(requests.compactMap { $0.headers["webhook-id"] })
            #expect(ids.count == 1, "webhook-id changed across retries: \(ids)")
            for request in requests {
                let verdict = try Self.verifyWithPython(secret: secret, request: request)
                #expect(verdict == "valid", "python says \(verdict) for \(request.headers)")
            }
            // A tampered body must not verify (the check can fail).
            if var tampered = requests.first {
                tampered.body += Array(" ".utf8)
                #expect(try Self.verifyWithPython(secret: secret, request: tampered) == "invalid")
            }
        } catch {
            Issue.record("\(error)\n\(harness.output)")
        }
        await harness.stop()
    }

    @Test("statuses: Provisioned → Running → Inactive → Disabled (kept for replay) → Running after re-enable")
    func applicationStatuses() async throws {
        let harness = try await WebhookHarness.start(request: false, telemetry: true, settings: ["InactiveAfterSec": 3])
        do {
            try await harness.waitForState(.provisioned)
            try await harness.addTelemetry(uid: Self.sensorA, text: "first")
            _ = try await harness.waitForDelivered(count: 1)
            try await harness.waitForState(.running)
            let listed = try await harness.admin(.GET, "/applications")
            #expect(listed.status == 200 && listed.body.contains(#""Status":"Running""#), "\(listed)")
            // The central's web API shows the same status (GET /applications on http-api).
            let api = try await harness.startProcess("http-api")
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(harness.stack.httpPort)/applications")
            request.headers.add(name: "Authorization", value: WebhookTests.bearer)
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
            let body = String(buffer: try await response.body.collect(upTo: 1 << 20))
            #expect(response.status.code == 200)
            #expect(body.contains(#""Name":"telemetry""#) && body.contains(#""Status":"Running""#), "\(body)")
            await api.stop()
            try await harness.waitFor("metric shows Running") {
                let metrics = (try? await harness.admin(.GET, "/metrics", authorization: nil).body) ?? ""
                return metrics.contains(#"iots_webhook_application_status{application="telemetry",status="Running"} 1"#)
            }

            // Nothing succeeds for longer than InactiveAfterSec (3 s): Inactive.
            try await harness.waitForState(.inactive, timeout: .seconds(8))

            // Disabled: nothing is sent, the message is kept in the dead-letter stream.
            #expect(try await harness.admin(.POST, "/applications/telemetry/disable").status == 200)
            try await harness.waitForState(.disabled)
            try await harness.addTelemetry(uid: Self.sensorA, text: "while disabled")
            try await harness.waitFor("kept while disabled") { (try? await harness.deadLetters().count) == 1 }
            #expect(try await harness.deadLetters().first?.string("reason") == "application disabled")
            #expect(harness.sink.received(path: "/telemetry").count == 1)
            #expect(try await harness.admin(.POST, "/applications/telemetry/replay").status == 409)

            // Enabled again: deliveries resume, Running; the kept message is replayed.
            #expect(try await harness.admin(.POST, "/applications/telemetry/enable").status == 200)
            try await harness.addTelemetry(uid: Self.sensorA, text: "after enable")
            _ = try await harness.waitForDelivered(count: 2)
            try await harness.waitForState(.running)
            #expect(try await harness.admin(.POST, "/applications/telemetry/replay").body == #"{"Replayed":1}"#)
            let delivered = try await harness.waitForDelivered(count: 3)
            #expect(delivered == ["first", "after enable", "while disabled"])
        } catch {
            Issue.record("\(error)\n\(harness.output)")
        }
        await harness.stop()
    }

    @Test("kill -9 of a dispatcher mid-delivery: another instance delivers what it held")
    func killedDispatcherHandsOver() async throws {
        // MaxSecWaitResponse 1 → entries are taken over after 10 s idle.
        let harness = try await WebhookHarness.start(request: false, telemetry: true, settings: ["MaxSecWaitResponse": 1], startDispatcher: false)
        do {
            let first = try await harness.startDispatcher(instance: "dispatcher-a")
            harness.sink.reply(WebhookSink.Reply(status: 200, delay: .seconds(30)), path: "/telemetry")
            try await harness.addTelemetry(uid: Self.sensorA, text: "held by a")
            await harness.sink.waitForRequests(path: "/telemetry", count: 1)
            first.kill()
            _ = await first.waitForExit(timeout: .seconds(5))
            harness.sink.reply(.ok(), path: "/telemetry")
            let adminPort = try FreePort.tcp()
            _ = try await harness.startDispatcher(instance: "dispatcher-b", adminPort: adminPort)
            let requests = await harness.sink.waitForRequests(path: "/telemetry", count: 2, timeout: .seconds(40))
            #expect(requests.count == 2, "the second instance did not deliver what the first held")
            #expect(requests.map { $0.json?["Payload"] as? String } == ["held by a", "held by a"])
        } catch {
            Issue.record("\(error)\n\(harness.output)")
        }
        await harness.stop()
    }

    // MARK: Helpers

    /// Runs Python's hmac over the request as Standard Webhooks defines the signature.
    static func verifyWithPython(secret: String, request: WebhookSink.Received) throws -> String {
        let script = """
            import base64, hashlib, hmac, sys
            secret, msg_id, timestamp, header = sys.argv[1:5]
            body = sys.stdin.buffer.read()
            key = base64.b64decode(secret[len("whsec_"):])
            expected = base64.b64encode(hmac.new(key, msg_id.encode() + b"." + timestamp.encode() + b"." + body, hashlib.sha256).digest()).decode()
            given = [part.split(",", 1)[1] for part in header.split(" ") if part.startswith("v1,")]
            print("valid" if any(hmac.compare_digest(expected, g) for g in given) else "invalid")
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [
            "-c", script, secret, request.headers["webhook-id"] ?? "", request.headers["webhook-timestamp"] ?? "",
            request.headers["webhook-signature"] ?? "",
        ]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.write(Data(request.body))
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// A private concentrator for webhook tests: redis-server, the sink, a dispatcher, and for
/// request webhooks a router and a gateway with one device in the ACL.
final class WebhookHarness: @unchecked Sendable {
    // @unchecked: `processes` is only touched by the test's own task, one call at a time.
    let redis: TestRedis
    let stack: TestStack
    let sink: WebhookSink
    let client: RedisClient
    let keys: KeySpace
    private var processes: [ServiceProcess] = []

    private init(redis: TestRedis, stack: TestStack, sink: WebhookSink, client: RedisClient) {
        self.redis = redis
        self.stack = stack
        self.sink = sink
        self.client = client
        self.keys = KeySpace(prefix: stack.keyPrefix)
    }

    /// - Parameter settings: extra `Central.WebHooks` keys.
    static func start(
        request: Bool, telemetry: Bool, withRouter: Bool = false, settings: [String: any Sendable] = [:], startDispatcher: Bool = true
    ) async throws -> WebhookHarness {
        let redis = try await TestRedis.start()
        let sink = try await WebhookSink.start()
        var webHooks: [String: any Sendable] = [
            "Request": request ? sink.url("/request") : "",
            "Telemetry": telemetry ? sink.url("/telemetry") : "",
        ]
        webHooks.merge(settings) { _, new in new }
        let stack = try TestStack(
            redisURL: redis.url,
            settings: [
                "Central": ["AuthKey": TestStack.centralKeyHex, "WebHooks": webHooks] as [String: any Sendable],
                "Groups": ["PLC": ["Telemetry": false] as [String: any Sendable]] as [String: any Sendable],
            ])
        let harness = WebhookHarness(redis: redis, stack: stack, sink: sink, client: try RedisClient(url: redis.url))
        do {
            if withRouter {
                let entry = ACLEntry(group: try GroupName("PLC"), uid: WebhookTests.plc, key: WebhookTests.plcKey)
                _ = try await harness.client.hset(harness.keys.acl, fields: [(WebhookTests.plc.hex, .bytes(ACLRecord.encode(entry)))])
                harness.processes.append(try await stack.startReady("router"))
                harness.processes.append(try await stack.startReady("tcp-gateway"))
            }
            if startDispatcher {
                _ = try await harness.startDispatcher(instance: "dispatcher-1")
            }
        } catch {
            let output = harness.output
            await harness.stop()
            throw TestSupportError.timeout("harness start failed: \(error)\n\(output)")
        }
        return harness
    }

    /// Starts a dispatcher instance (own admin port when given) and waits until it is ready.
    @discardableResult
    func startDispatcher(instance: String, adminPort: Int? = nil) async throws -> ServiceProcess {
        var environment = ["IOTS_INSTANCE_ID": instance]
        if let adminPort { environment["IOTS_ADMIN_PORT"] = "\(adminPort)" }
        let process = try await self.stack.startReady("webhook-dispatcher", environment: environment)
        self.processes.append(process)
        return process
    }

    func stop() async {
        for process in self.processes.reversed() {
            _ = await process.stop(timeout: .seconds(5))
        }
        await self.sink.stop()
        await self.client.close()
        self.redis.stop()
    }

    var output: String {
        self.processes.map { "=== \($0.name) \($0.pid)\n\($0.output)" }.joined(separator: "\n")
    }

    func connectDevice() async throws -> TestElement {
        let device = try await TestElement.connect(host: "127.0.0.1", port: self.stack.tcpPort, uid: WebhookTests.plc, key: WebhookTests.plcKey)
        try await self.waitFor("device online") {
            (try? await self.client.hgetString(self.keys.session(WebhookTests.plc), field: "state")) == "online"
        }
        return device
    }

    /// Queues a telemetry job as the router does (UTF-8 payload `text`).
    func addTelemetry(uid: UID, text: String) async throws {
        let job = WebhookJob.telemetry(
            uid: uid, payload: try PayloadBlock(format: .utf8, data: Array(text.utf8)), receivedAtMilliseconds: Int(Date().timeIntervalSince1970 * 1000))
        try await self.client.xadd(self.keys.webhookTelemetry, fields: job.fields)
    }

    /// The payload texts of the telemetry webhooks the sink answered 200 to, in order, once
    /// there are `count` distinct ones.
    func waitForDelivered(count: Int, timeout: Duration = .seconds(10)) async throws -> [String] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let delivered = self.deliveredTelemetry()
            if delivered.count >= count { return delivered }
            guard ContinuousClock.now < deadline else {
                throw TestSupportError.timeout("\(count) telemetry deliveries, got \(delivered)\n\(self.output)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Payload texts of the telemetry deliveries the sink answered 200, first occurrence of
    /// each, in arrival order.
    private func deliveredTelemetry() -> [String] {
        var seen = Set<String>()
        var result: [String] = []
        for request in self.sink.received(path: "/telemetry") where request.replyStatus == 200 {
            guard let text = request.json?["Payload"] as? String, !seen.contains(text) else { continue }
            seen.insert(text)
            result.append(text)
        }
        return result
    }

    func deadLetters() async throws -> [StreamEntry] {
        try await self.client.xrange(self.keys.webhookDeadLetters(.telemetry))
    }

    func applicationStatus(_ application: WebhookApplication) async throws -> ApplicationStatus? {
        try await ApplicationStatusStore(redis: self.client, keys: self.keys).status(of: application)
    }

    func waitForState(_ state: ApplicationState, timeout: Duration = .seconds(10)) async throws {
        try await self.waitFor("status \(state)", timeout: timeout) {
            let status = try? await self.applicationStatus(.telemetry)
            return status?.state(atMilliseconds: Int(Date().timeIntervalSince1970 * 1000)) == state
        }
    }

    /// Starts another service of the stack and waits until it is ready.
    func startProcess(_ service: String) async throws -> ServiceProcess {
        let process = try await self.stack.startReady(service)
        self.processes.append(process)
        return process
    }

    /// Calls the dispatcher's admin endpoint (the first instance's port).
    func admin(_ method: HTTPMethod, _ path: String, authorization: String? = WebhookTests.bearer) async throws -> (status: Int, body: String) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(self.stack.adminPort("webhook-dispatcher"))\(path)")
        request.method = method
        if let authorization { request.headers.add(name: "Authorization", value: authorization) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
        let body = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), String(buffer: body))
    }

    func waitFor(_ what: String, timeout: Duration = .seconds(10), _ condition: @Sendable () async -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if await condition() { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestSupportError.timeout("\(what)\n\(self.output)")
    }
}
