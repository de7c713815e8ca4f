import AsyncHTTPClient
import Foundation
import IoTSocket
import Messaging
import NIOCore
import RedisBus
import Synchronization
import Testing
import TestSupport

/// Issue 5's acceptance: the central's HTTP API end to end — redis, router, tcp-gateway and
/// http-api as real processes, devices as `TestElement`s, HTTP through AsyncHTTPClient.
@Suite("http-api: IoTSocket over HTTP(S) and the REST endpoints", .serialized)
struct HTTPAPITests {
    static let deviceKey = try! AuthKey(hex: "00112233445566778899aabbccddeeff")
    static let otherKey = try! AuthKey(hex: "ffeeddccbbaa99887766554433221100")
    static let echo = try! UID("Echo-1")
    static let silent = try! UID("Silent")
    static let aclJSON = """
        [{"GroupName": "Sensors", "UID": "Echo-1", "AuthKey": "00112233445566778899AABBCCDDEEFF"},
         {"GroupName": "PLC", "UID": "Silent", "AuthKey": "ffeeddccbbaa99887766554433221100"}]
        """

    @Test("POST /acl replaces the ACL, then the listed device logs in and others are refused")
    func aclPushThenLogin() async throws {
        let harness = try await HTTPAPIHarness.start()
        do {
            let answer = try await harness.http(.POST, "/acl", body: Self.aclJSON)
            #expect(answer.status == 200)
            #expect(answer.body.isEmpty)
            #expect(try await harness.client.send(["HLEN", .string(harness.keys.acl)]).int == 2)

            let device = try await harness.connect(Self.echo, key: Self.deviceKey)
            await device.close()
            await #expect(throws: TestElementError.self) {
                _ = try await harness.connect(try UID("Stranger"), key: Self.deviceKey)
            }
            await #expect(throws: TestElementError.self) {
                _ = try await harness.connect(Self.echo, key: Self.otherKey)
            }
        } catch {
            Issue.record("\(error)\n\(harness.output)")
        }
        await harness.stop()
    }

    @Test("POST /request round trip in all four formats with an echoing device")
    func roundTripAllFormats() async throws {
        let harness = try await HTTPAPIHarness.start()
        do {
            _ = try await harness.http(.POST, "/acl", body: Self.aclJSON)
            let device = try await harness.connect(Self.echo, key: Self.deviceKey)
            try await harness.waitForSession(Self.echo, "online")
            let calls: [(format: String, payload: String, bytes: [UInt8])] = [
                ("JSON", #"{"get":["t","h"],"n":12345678901234567890}"#, Array(#"{"get":["t","h"],"n":12345678901234567890}"#.utf8)),
                ("ASCII", #""temp?""#, Array("temp?".utf8)),
                ("UTF8", #""température ✓""#, Array("température ✓".utf8)),
                ("BINARY", "[0, 255, 16, 1]", [0, 255, 16, 1]),
            ]
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    // The device checks what it receives, then echoes it.
                    for call in calls {
                        guard case .request(nil, let tracking, let payload) = try await device.receive(timeout: .seconds(10)) else {
                            Issue.record("the device did not receive a request")
                            return
                        }
                        #expect(payload.format.name == call.format)
                        #expect(payload.data == call.bytes)
                        try await device.send(.response(uid: nil, tracking: tracking, code: .valid, payload: payload))
                    }
                }
                for call in calls {
                    let answer = try await harness.http(
                        .POST, "/request", body: #"{"UID": "Echo-1", "Timeout": 5, "Format": "\#(call.format)", "Payload": \#(call.payload)}"#)
                    #expect(answer.status == 200)
                    let json = try answer.json()
                    #expect(json["Code"]?.intValue == 0)
                    #expect(json["Format"]?.stringValue == call.format)
                    #expect(json["Payload"] == (try JSONValue(parsing: call.payload)), "\(call.format): \(answer.body)")
                }
                try await group.waitForAll()
            }
            await device.close()
        } catch {
            Issue.record("\(error)\n\(harness.output)")
        }
        await harness.stop()
    }

    @Test("Redis down: a call that cannot be sent gets 160 without waiting for its timeout; after Redis returns, calls work again")
    func redisOutage() async throws {
        let harness = try await HTTPAPIHarness.start(http: ["MaxSecWaitResponse": 30])
        do {
            _ = try await harness.http(.POST, "/acl", body: Self.aclJSON)
            let device = try await harness.connect(Self.echo, key: Self.deviceKey)
            try await harness.waitForSession(Self.echo, "online")

            try await harness.redis.stopKeepingData()
            let start = ContinuousClock.now
            let unsent = try await harness.http(.POST, "/request", body: #"{"UID": "Echo-1", "Timeout": 20, "Format": "ASCII", "Payload": "?"}"#)
            let waited = ContinuousClock.now - start
            #expect(unsent.body == #"{"Code":160,"Payload":[],"Format":"BINARY"}"#)
            // Refused once the Redis client gives up waiting for a connection (5 s), not at 20 s.
            #expect(waited < .seconds(10), "answered after \(waited)")

            try await harness.redis.resume()
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    guard case .request(nil, let tracking, let payload) = try await device.receive(timeout: .seconds(15)) else {
                        Issue.record("the device did not receive a request")
                        return
                    }
                    try await device.send(.response(uid: nil, tracking: tracking, code: .valid, payload: payload))
                }
                let answer = try await harness.http(.POST, "/request", body: #"{"UID": "Echo-1", "Timeout": 15, "Format": "ASCII", "Payload": "back"}"#)
                #expect(answer.body == #"{"Code":0,"Payload":"back","Format":"ASCII"}"#)
                try await group.waitForAll()
            }
            await device.close()
        } catch {
            Issue.record("\(error)\n\(harness.output)")
        }
        await harness.stop()
    }

    @Test("160 for an unknown or offline device, 161 for a silent one within Timeout + 1 s, Timeout capped by MaxSecWaitResponse")
    func concentratorCodes() async throws {
        let harness = try await HTTPAPIHarness.start(http: ["MaxSecWaitResponse": 2])
        do {
            _ = try await harness.http(.POST, "/acl", body: Self.aclJSON)
            for uid in ["Nobody", "Silent"] {
                let answer = try await harness.http(.POST, "/request", body: #"{"UID": "\#(uid)", "Format": "ASCII", "Payload": "x"}"#)
                #expect(answer.status == 200)
                #expect(answer.body == #"{"Code":160,"Payload":[],"Format":"BINARY"}"#, "\(uid)")
            }

            let device = try await harness.connect(Self.silent, key: Self.otherKey)
            try await harness.waitForSession(Self.silent, "online")
            let start = ContinuousClock.now
            let answer = try await harness.http(.POST, "/request", body: #"{"UID": "Silent", "Timeout": 1, "Format": "BINARY", "Payload": []}"#)
            let elapsed = ContinuousClock.now - start
            #expect(answer.body == #"{"Code":161,"Payload":[],"Format":"BINARY"}"#)
            #expect(elapsed >= .milliseconds(900) && elapsed < .seconds(2), "answered after \(elapsed)")
            // A whole number written as a decimal or with an exponent (a central computing its
            // timeout in floating point) is that many seconds.
            for timeout in ["1.0", "1e0", "0.1e1"] {
                let started = ContinuousClock.now
                let answer = try await harness.http(
                    .POST, "/request", body: #"{"UID": "Silent", "Timeout": \#(timeout), "Format": "BINARY", "Payload": []}"#)
                let waited = ContinuousClock.now - started
                #expect(answer.body == #"{"Code":161,"Payload":[],"Format":"BINARY"}"#, "Timeout \(timeout)")
                #expect(waited >= .milliseconds(900) && waited < .seconds(2), "Timeout \(timeout) answered after \(waited)")
            }

            // A Timeout above HTTPServer.MaxSecWaitResponse (2 s here) waits only that long, even
            // one too large for a 64-bit integer, and so does a call without one.
            for body in [
                #"{"UID": "Silent", "Timeout": 600, "Format": "BINARY", "Payload": []}"#,
                #"{"UID": "Silent", "Timeout": 99999999999999999999, "Format": "BINARY", "Payload": []}"#,
                #"{"UID": "Silent", "Timeout": 1e400, "Format": "BINARY", "Payload": []}"#,
                #"{"UID": "Silent", "Format": "BINARY", "Payload": []}"#,
            ] {
                let capped = ContinuousClock.now
                let answer = try await harness.http(.POST, "/request", body: body)
                let waited = ContinuousClock.now - capped
                #expect(answer.body == #"{"Code":161,"Payload":[],"Format":"BINARY"}"#)
                #expect(waited >= .milliseconds(1_900) && waited < .seconds(3), "\(body) answered after \(waited)")
            }
            await device.close()

            // With the router down nobody answers the call: http-api itself says 0xA1 at the
            // deadline rather than hanging.
            _ = await harness.processes[0].stop()
            let alone = ContinuousClock.now
            let unanswered = try await harness.http(.POST, "/request", body: #"{"UID": "Silent", "Timeout": 1, "Format": "BINARY", "Payload": [1]}"#)
            let waited = ContinuousClock.now - alone
            #expect(unanswered.body == #"{"Code":161,"Payload":[],"Format":"BINARY"}"#)
            #expect(waited >= .seconds(1) && waited < .seconds(2), "answered after \(waited)")
        } catch {
            Issue.record("\(error)\n\(harness.output)")
        }
        await harness.stop()
    }

    /// One refused call: what is sent and what must come back.
    struct Refusal: Sendable, CustomStringConvertible {
        var method: HTTPAPIHarness.Method = .POST
        var path: String
        var body: String?
        var key: String? = TestStack.centralKeyHex
        var status: Int
        var field: String?
        var message: String

        var description: String { "\(self.method) \(self.path) \(self.body ?? "")" }
    }

    static let refusals: [Refusal] = [
        Refusal(path: "/request", body: "{}", key: nil, status: 401, field: "Authorization", message: "missing"),
        Refusal(path: "/request", body: "{}", key: "00112233445566778899aabbccddeeff", status: 401, field: "Authorization", message: "not the central"),
        Refusal(path: "/request", body: "{}", key: "zz", status: 401, field: "Authorization", message: "not the central"),
        Refusal(path: "/nowhere", body: nil, status: 404, message: "no endpoint"),
        Refusal(method: .GET, path: "/request", body: nil, status: 405, message: "GET is not allowed"),
        Refusal(method: .DELETE, path: "/acl", body: nil, status: 405, message: "use POST"),
        Refusal(path: "/request", body: "{\"UID\": ", status: 400, field: "body", message: "invalid JSON"),
        Refusal(path: "/request", body: "[1]", status: 400, field: "body", message: "expected an object"),
        Refusal(path: "/request", body: #"{"Format": "ASCII", "Payload": "x"}"#, status: 400, field: "UID", message: "UID is missing"),
        Refusal(path: "/request", body: #"{"UID": "", "Format": "ASCII", "Payload": "x"}"#, status: 400, field: "UID", message: "empty"),
        Refusal(
            path: "/request", body: #"{"UID": "ABCDEFGHIJKLMNOPQ", "Format": "ASCII", "Payload": "x"}"#, status: 400, field: "UID",
            message: "17 UTF-8 bytes"),
        Refusal(path: "/request", body: #"{"UID": 7, "Format": "ASCII", "Payload": "x"}"#, status: 400, field: "UID", message: "a number"),
        Refusal(path: "/request", body: #"{"UID": "Echo-1", "Format": "XML", "Payload": "x"}"#, status: 400, field: "Format", message: "unknown"),
        Refusal(path: "/request", body: #"{"UID": "Echo-1", "Payload": "x"}"#, status: 400, field: "Format", message: "missing"),
        Refusal(path: "/request", body: #"{"UID": "Echo-1", "Format": "ASCII"}"#, status: 400, field: "Payload", message: "missing"),
        Refusal(path: "/request", body: #"{"UID": "Echo-1", "Format": "ASCII", "Payload": "é"}"#, status: 400, field: "Payload", message: "not ASCII"),
        Refusal(path: "/request", body: #"{"UID": "Echo-1", "Format": "UTF8", "Payload": 3}"#, status: 400, field: "Payload", message: "expected a string"),
        Refusal(path: "/request", body: #"{"UID": "Echo-1", "Format": "BINARY", "Payload": [1, 256]}"#, status: 400, field: "Payload[1]", message: "0–255"),
        Refusal(path: "/request", body: #"{"UID": "Echo-1", "Format": "BINARY", "Payload": [-1]}"#, status: 400, field: "Payload[0]", message: "0–255"),
        Refusal(path: "/request", body: #"{"UID": "Echo-1", "Format": "BINARY", "Payload": [1.5]}"#, status: 400, field: "Payload[0]", message: "0–255"),
        Refusal(path: "/request", body: #"{"UID": "Echo-1", "Format": "BINARY", "Payload": "AQ=="}"#, status: 400, field: "Payload", message: "array"),
        Refusal(path: "/request", body: #"{"UID": "Echo-1", "Timeout": 0, "Format": "JSON", "Payload": 1}"#, status: 400, field: "Timeout", message: "positive integer"),
        Refusal(path: "/request", body: #"{"UID": "Echo-1", "Timeout": 2.5, "Format": "JSON", "Payload": 1}"#, status: 400, field: "Timeout", message: "positive integer"),
        Refusal(path: "/request", body: #"{"UID": "Echo-1", "Timeout": 0.0, "Format": "JSON", "Payload": 1}"#, status: 400, field: "Timeout", message: "positive integer"),
        Refusal(path: "/request", body: #"{"UID": "Echo-1", "Timeout": -1e1, "Format": "JSON", "Payload": 1}"#, status: 400, field: "Timeout", message: "positive integer"),
        Refusal(
            path: "/request", body: #"{"UID": "Echo-1", "Timeout": -99999999999999999999, "Format": "JSON", "Payload": 1}"#, status: 400,
            field: "Timeout", message: "positive integer"),
        Refusal(path: "/request", body: #"{"UID": "Echo-1", "Timeout": "5", "Format": "JSON", "Payload": 1}"#, status: 400, field: "Timeout", message: "a string"),
        Refusal(path: "/acl", body: "{}", status: 400, field: "body", message: "expected an array"),
        Refusal(
            path: "/acl", body: #"[{"GroupName": "G", "UID": "A", "AuthKey": "00112233445566778899aabbccddeeff"}, {"GroupName": "G", "UID": "B", "AuthKey": "0011"}]"#,
            status: 400, field: "[1].AuthKey", message: "32 hex digits"),
        Refusal(
            path: "/acl", body: #"[{"GroupName": "G", "UID": "A", "AuthKey": "00112233445566778899aabbccddeefg"}]"#, status: 400,
            field: "[0].AuthKey", message: "hex digit"),
        Refusal(
            path: "/acl", body: #"[{"GroupName": "GroupNameTooLong!", "UID": "A", "AuthKey": "00112233445566778899aabbccddeeff"}]"#,
            status: 400, field: "[0].GroupName", message: "at most 16"),
        Refusal(path: "/acl", body: #"[{"GroupName": "G", "AuthKey": "00112233445566778899aabbccddeeff"}]"#, status: 400, field: "[0].UID", message: "missing"),
        Refusal(method: .PUT, path: "/devices/Echo-1", body: #"{"GroupName": "G"}"#, status: 400, field: "AuthKey", message: "missing"),
        Refusal(method: .GET, path: "/devices/ABCDEFGHIJKLMNOPQ", body: nil, status: 400, field: "uid", message: "at most 16"),
        Refusal(method: .GET, path: "/devices/Nobody", body: nil, status: 404, message: "not in the ACL"),
        Refusal(method: .GET, path: "/devices?limit=0", body: nil, status: 400, field: "limit", message: "1–1000"),
        Refusal(method: .GET, path: "/devices?status=asleep", body: nil, status: 400, field: "status", message: "unknown"),
    ]

    @Test("every refusal: 401, 404, 405, 400 naming the field; an invalid ACL changes nothing")
    func refusals() async throws {
        let harness = try await HTTPAPIHarness.start()
        do {
            _ = try await harness.http(.POST, "/acl", body: Self.aclJSON)
            for refusal in Self.refusals {
                let answer = try await harness.http(refusal.method, refusal.path, body: refusal.body, key: refusal.key)
                #expect(answer.status == refusal.status, "\(refusal): \(answer.body)")
                let json = try answer.json()
                #expect(json["field"]?.stringValue == refusal.field, "\(refusal): \(answer.body)")
                #expect(json["error"]?.stringValue?.contains(refusal.message) == true, "\(refusal): \(answer.body)")
                switch refusal.status {
                case 401: #expect(answer.headers["www-authenticate"]?.hasPrefix("Bearer") == true)
                case 405: #expect(!(answer.headers["allow"] ?? "").isEmpty)
                default: break
                }
            }
            // The refused lists above left the ACL as POSTed first.
            #expect(try await harness.client.send(["HLEN", .string(harness.keys.acl)]).int == 2)
            // The key is case-insensitive and so is the scheme.
            let upper = try await harness.http(.GET, "/applications", key: TestStack.centralKeyHex.uppercased(), scheme: "bearer")
            #expect(upper.status == 200 && upper.body == "[]")
        } catch {
            Issue.record("\(error)\n\(harness.output)")
        }
        await harness.stop()
    }

    @Test("413 above MaxContentLength: answered from Content-Length without the body, chunked bodies cut off; keep-alive for answered calls")
    func contentTooLarge() async throws {
        let harness = try await HTTPAPIHarness.start()
        do {
            let head =
                "POST /request HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(TestStack.centralKeyHex)\r\n"
                + "Content-Type: application/json\r\nContent-Length: 10000000\r\n\r\n"
            let raw = try await TestElement.connectRaw(host: "127.0.0.1", port: harness.stack.httpPort)
            try await raw.send(Array(head.utf8))
            let (status, _, body) = try await Self.readResponse(raw)
            #expect(status.hasPrefix("HTTP/1.1 413"), "\(status)")
            #expect(body.contains("\"field\":\"body\"") && body.contains("10000000 bytes"), "\(body)")
            // Nothing more is read: the connection closes instead of draining the body.
            #expect(await raw.waitForClose(timeout: .seconds(3)))
            await raw.close()

            let chunked = try await TestElement.connectRaw(host: "127.0.0.1", port: harness.stack.httpPort)
            let chunk = String(repeating: "a", count: 3000)
            try await chunked.send(
                Array(
                    ("POST /acl HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(TestStack.centralKeyHex)\r\n"
                        + "Transfer-Encoding: chunked\r\n\r\n" + "bb8\r\n\(chunk)\r\nbb8\r\n\(chunk)\r\n").utf8))
            let (chunkedStatus, _, chunkedBody) = try await Self.readResponse(chunked)
            #expect(chunkedStatus.hasPrefix("HTTP/1.1 413"), "\(chunkedStatus)")
            #expect(chunkedBody.contains("at most 4096"), "\(chunkedBody)")
            #expect(await chunked.waitForClose(timeout: .seconds(3)))
            await chunked.close()

            // Answered calls keep the connection alive, one after another on it; a refusal
            // answered without reading the body (401 here) closes it.
            let kept = try await TestElement.connectRaw(host: "127.0.0.1", port: harness.stack.httpPort)
            let call = #"{"UID": "Nobody", "Format": "ASCII", "Payload": "x"}"#
            func post(_ authorization: String) async throws -> (statusLine: String, headers: [String: String], body: String) {
                try await kept.send(
                    Array(
                        ("POST /request HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: \(authorization)\r\n"
                            + "Content-Type: application/json\r\nContent-Length: \(call.utf8.count)\r\n\r\n\(call)").utf8))
                return try await Self.readResponse(kept)
            }
            for _ in 0..<3 {
                let (status, _, body) = try await post("Bearer \(TestStack.centralKeyHex)")
                #expect(status.hasPrefix("HTTP/1.1 200"), "\(status)")
                #expect(body == #"{"Code":160,"Payload":[],"Format":"BINARY"}"#)
            }
            #expect(try await post("Bearer 00").statusLine.hasPrefix("HTTP/1.1 401"))
            #expect(await kept.waitForClose(timeout: .seconds(3)))
            await kept.close()

            // A client that shuts down its sending side after the request (end of input while
            // the call waits) still gets the answer, then the server closes.
            let halfClosed = try await TestElement.connectRaw(host: "127.0.0.1", port: harness.stack.httpPort)
            try await halfClosed.send(
                Array(
                    ("POST /request HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(TestStack.centralKeyHex)\r\n"
                        + "Content-Type: application/json\r\nContent-Length: \(call.utf8.count)\r\n\r\n\(call)").utf8))
            try await halfClosed.closeOutput()
            let (halfStatus, _, halfBody) = try await Self.readResponse(halfClosed)
            #expect(halfStatus.hasPrefix("HTTP/1.1 200"), "\(halfStatus)")
            #expect(halfBody == #"{"Code":160,"Payload":[],"Format":"BINARY"}"#)
            #expect(await halfClosed.waitForClose(timeout: .seconds(3)))
            await halfClosed.close()
        } catch {
            Issue.record("\(error)\n\(harness.output)")
        }
        await harness.stop()
    }

    @Test("pipelined on one connection: calls answered on the event loop, a GET and an invalid call answered by the responder, all in order")
    func pipelinedMix() async throws {
        let harness = try await HTTPAPIHarness.start()
        do {
            _ = try await harness.http(.POST, "/acl", body: Self.aclJSON)
            let device = try await harness.connect(Self.echo, key: Self.deviceKey)
            try await harness.waitForSession(Self.echo, "online")
            func post(_ body: String) -> String {
                "POST /request HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(TestStack.centralKeyHex)\r\n"
                    + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
            }
            // Sent in one write: each call waits for the device while the next requests are
            // already in the server's buffer.
            let requests = [
                post(#"{"UID": "Echo-1", "Format": "ASCII", "Payload": "one"}"#),
                "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                post(#"{"UID": "Echo-1", "Format": "ASCII", "Payload": "two"}"#),
                post(#"{"UID": "Echo-1", "Format": "ASCII", "Payload": [1]}"#),
                post(#"{"UID": "Echo-1", "Format": "ASCII", "Payload": "three"}"#),
            ]
            let raw = try await TestElement.connectRaw(host: "127.0.0.1", port: harness.stack.httpPort)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for expected in ["one", "two", "three"] {
                        guard case .request(nil, let tracking, let payload) = try await device.receive(timeout: .seconds(10)) else {
                            Issue.record("the device did not receive a request")
                            return
                        }
                        #expect(payload.data == Array(expected.utf8))
                        try await Task.sleep(for: .milliseconds(50))
                        try await device.send(.response(uid: nil, tracking: tracking, code: .valid, payload: payload))
                    }
                }
                try await raw.send(Array(requests.joined().utf8))
                var answers: [(statusLine: String, headers: [String: String], body: String)] = []
                for _ in requests {
                    answers.append(try await Self.readResponse(raw))
                }
                #expect(answers.map(\.statusLine) == ["HTTP/1.1 200 OK", "HTTP/1.1 200 OK", "HTTP/1.1 200 OK", "HTTP/1.1 400 Bad Request", "HTTP/1.1 200 OK"])
                #expect(answers[0].body == #"{"Code":0,"Payload":"one","Format":"ASCII"}"#)
                #expect(answers[1].body == "ok http-api\n")
                #expect(answers[2].body == #"{"Code":0,"Payload":"two","Format":"ASCII"}"#)
                #expect(answers[3].body.contains(#""field":"Payload""#), "\(answers[3].body)")
                #expect(answers[4].body == #"{"Code":0,"Payload":"three","Format":"ASCII"}"#)
                // The same headers whichever path answered.
                for answer in answers {
                    #expect(answer.headers["server"] == "iots-http-api", "\(answer.headers)")
                    #expect(answer.headers["date"]?.hasSuffix(" GMT") == true, "\(answer.headers)")
                }
                #expect(answers[0].headers["content-type"] == "application/json; charset=utf-8")
                try await group.waitForAll()
            }
            await raw.close()
            await device.close()
            let metrics = try await harness.http(.GET, "/metrics")
            #expect(metrics.body.contains(#"iots_http_requests_total{route="/request",status="200"} 3"#), "\(metrics.body)")
            #expect(metrics.body.contains(#"iots_http_requests_total{route="/request",status="400"} 1"#))
            #expect(metrics.body.contains(#"iots_http_calls_answered_total{code="0"} 3"#))
        } catch {
            Issue.record("\(error)\n\(harness.output)")
        }
        await harness.stop()
    }

    @Test("a malformed request pipelined behind a call: the call is answered first, then the 400, then the close")
    func malformedBehindCall() async throws {
        let harness = try await HTTPAPIHarness.start()
        do {
            _ = try await harness.http(.POST, "/acl", body: Self.aclJSON)
            let device = try await harness.connect(Self.echo, key: Self.deviceKey)
            try await harness.waitForSession(Self.echo, "online")
            let body = #"{"UID": "Echo-1", "Format": "ASCII", "Payload": "first"}"#
            let call = "POST /request HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(TestStack.centralKeyHex)\r\n"
                + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
            let raw = try await TestElement.connectRaw(host: "127.0.0.1", port: harness.stack.httpPort)
            try await raw.send(Array((call + "NOT HTTP AT ALL\r\n\r\n").utf8))
            guard case .request(nil, let tracking, let payload) = try await device.receive(timeout: .seconds(10)) else {
                Issue.record("the device did not receive the call")
                return
            }
            try await Task.sleep(for: .milliseconds(100))
            try await device.send(.response(uid: nil, tracking: tracking, code: .valid, payload: payload))
            let answer = try await Self.readResponse(raw)
            #expect(answer.statusLine == "HTTP/1.1 200 OK")
            #expect(answer.body == #"{"Code":0,"Payload":"first","Format":"ASCII"}"#)
            let refusal = try await Self.readResponse(raw)
            #expect(refusal.statusLine == "HTTP/1.1 400 Bad Request")
            #expect(await raw.waitForClose())
            await device.close()
        } catch {
            Issue.record("\(error)\n\(harness.output)")
        }
        await harness.stop()
    }

    @Test("Connection: close in any case ends the connection after the response, which says so")
    func connectionClose() async throws {
        let harness = try await HTTPAPIHarness.start(withGateway: false)
        do {
            for value in ["close", "Close", "keep-alive, CLOSE"] {
                let raw = try await TestElement.connectRaw(host: "127.0.0.1", port: harness.stack.httpPort)
                try await raw.send(Array("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: \(value)\r\n\r\n".utf8))
                let answer = try await Self.readResponse(raw)
                #expect(answer.statusLine == "HTTP/1.1 200 OK")
                #expect(answer.headers["connection"] == "close", "\(value): \(answer.headers)")
                #expect(await raw.waitForClose(timeout: .seconds(3)), "\(value)")
                await raw.close()
            }
        } catch {
            Issue.record("\(error)\n\(harness.output)")
        }
        await harness.stop()
    }

    @Test("HTTP/1.0: the connection ends after the response (clients read until the close), unless the client asks to keep it, which is confirmed")
    func http10ClosesAfterResponse() async throws {
        let harness = try await HTTPAPIHarness.start(withGateway: false)
        do {
            let body = #"{"UID": "Nobody", "Format": "JSON", "Payload": null}"#
            let requests = [
                "GET /health HTTP/1.0\r\n\r\n",
                "POST /request HTTP/1.0\r\nAuthorization: Bearer \(TestStack.centralKeyHex)\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)",
            ]
            for request in requests {
                let raw = try await TestElement.connectRaw(host: "127.0.0.1", port: harness.stack.httpPort)
                try await raw.send(Array(request.utf8))
                let answer = try await Self.readResponse(raw)
                #expect(answer.statusLine.hasSuffix(" 200 OK"), "\(request): \(answer.statusLine)")
                #expect(answer.headers["connection"] == "close", "\(request): \(answer.headers)")
                #expect(await raw.waitForClose(timeout: .seconds(3)), "\(request): the connection stayed open")
                await raw.close()
            }
            // Asked to be kept (ApacheBench -k): confirmed with `Connection: keep-alive`, which such a
            // client needs to send its next request instead of waiting for the close, and the
            // connection serves the next requests, on the fast path and Hummingbird's.
            let raw = try await TestElement.connectRaw(host: "127.0.0.1", port: harness.stack.httpPort)
            for request in requests {
                let kept = request.replacingOccurrences(of: "HTTP/1.0\r\n", with: "HTTP/1.0\r\nConnection: Keep-Alive\r\n")
                try await raw.send(Array(kept.utf8))
                let answer = try await Self.readResponse(raw)
                #expect(answer.statusLine.hasSuffix(" 200 OK"), "\(kept): \(answer.statusLine)")
                #expect(answer.headers["connection"] == "keep-alive", "\(kept): \(answer.headers)")
            }
            try await raw.send(Array("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8))
            let last = try await Self.readResponse(raw)
            #expect(last.statusLine == "HTTP/1.1 200 OK")
            #expect(last.headers["connection"] == nil, "\(last.headers)")
            await raw.close()
        } catch {
            Issue.record("\(error)\n\(harness.output)")
        }
        await harness.stop()
    }

    @Test("a connection waiting on its client past IdleTimeoutSec is closed (silent, or a head trickling in); a call held longer is answered, and activity keeps a connection")
    func idleConnectionsClosed() async throws {
        let harness = try await HTTPAPIHarness.start(http: ["IdleTimeoutSec": 1])
        do {
            let port = harness.stack.httpPort
            // Connected, nothing sent.
            let silent = try await TestElement.connectRaw(host: "127.0.0.1", port: port)
            let opened = ContinuousClock.now
            #expect(await silent.waitForClose(timeout: .seconds(5)))
            #expect(ContinuousClock.now - opened >= .milliseconds(900))
            await silent.close()

            // A head sent one byte every 100 ms (about 7 s for all of it): bytes are not requests.
            let trickle = try await TestElement.connectRaw(host: "127.0.0.1", port: port)
            let head = Array("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ".utf8) + [UInt8](repeating: UInt8(ascii: "a"), count: 20)
            var closedAfter: Int?
            for (index, byte) in head.enumerated() {
                try? await trickle.send([byte])
                if await trickle.waitForClose(timeout: .milliseconds(100)) {
                    closedAfter = index + 1
                    break
                }
            }
            #expect(closedAfter.map { $0 < head.count } == true, "closed after \(closedAfter.map(String.init) ?? "never") of \(head.count) bytes")
            await trickle.close()

            // A call held for 2 s is the server's time: answered on the kept connection, which is
            // closed only once it has idled a whole period after the answer.
            _ = try await harness.http(.POST, "/acl", body: Self.aclJSON)
            let device = try await harness.connect(Self.silent, key: Self.otherKey)
            try await harness.waitForSession(Self.silent, "online")
            let body = #"{"UID": "Silent", "Timeout": 2, "Format": "ASCII", "Payload": "?"}"#
            let caller = try await TestElement.connectRaw(host: "127.0.0.1", port: port)
            try await caller.send(Array(
                "POST /request HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(TestStack.centralKeyHex)\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8))
            let answer = try await Self.readResponse(caller)
            #expect(answer.body == #"{"Code":161,"Payload":[],"Format":"BINARY"}"#)
            let answered = ContinuousClock.now
            #expect(await caller.waitForClose(timeout: .seconds(5)))
            #expect(ContinuousClock.now - answered >= .milliseconds(900))
            await caller.close()
            await device.close()

            // A request every 400 ms keeps a connection for longer than the period.
            let busy = try await TestElement.connectRaw(host: "127.0.0.1", port: port)
            for _ in 0..<6 {
                try await busy.send(Array("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8))
                #expect(try await Self.readResponse(busy).statusLine == "HTTP/1.1 200 OK")
                #expect(await busy.waitForClose(timeout: .milliseconds(400)) == false)
            }
            await busy.close()
            // The three above, and the test client's own pooled connection whenever it idled.
            let metrics = try await harness.http(.GET, "/metrics").body
            let closed = metrics.split(separator: "\n").first { $0.hasPrefix("iots_http_connections_idle_closed_total ") }
            #expect(closed.flatMap { Int($0.split(separator: " ")[1]) }.map { $0 >= 3 } == true, "\(metrics)")
        } catch {
            Issue.record("\(error)\n\(harness.output)")
        }
        await harness.stop()
    }

    @Test("MaxConnections: at the limit a new connection waits in the backlog, and is served once another closes")
    func connectionLimit() async throws {
        let harness = try await HTTPAPIHarness.start(http: ["MaxConnections": 2])
        do {
            let port = harness.stack.httpPort
            let health = Array("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)
            let first = try await TestElement.connectRaw(host: "127.0.0.1", port: port)
            let second = try await TestElement.connectRaw(host: "127.0.0.1", port: port)
            for connection in [first, second] {
                try await connection.send(health)
                #expect(try await Self.readResponse(connection).statusLine == "HTTP/1.1 200 OK")
            }
            let metrics = try await AdminProbe.get(port: harness.stack.adminPort("http-api"), path: "/metrics").body
            #expect(metrics.contains("iots_http_connections_open 2"), "\(metrics)")

            // The kernel completes the third connection (backlog); the service does not take it.
            let third = try await TestElement.connectRaw(host: "127.0.0.1", port: port)
            try await third.send(health)
            await #expect(throws: (any Error).self) { try await Self.readResponse(third, timeout: .seconds(1)) }
            await first.close()
            #expect(try await Self.readResponse(third).statusLine == "HTTP/1.1 200 OK")
            await second.close()
            await third.close()
        } catch {
            Issue.record("\(error)\n\(harness.output)")
        }
        await harness.stop()
    }

    @Test("Expect: 100-continue gets 100 Continue before the body, unless the request is refused without reading it")
    func expectContinue() async throws {
        let harness = try await HTTPAPIHarness.start()
        do {
            _ = try await harness.http(.POST, "/acl", body: Self.aclJSON)
            let device = try await harness.connect(Self.echo, key: Self.deviceKey)
            try await harness.waitForSession(Self.echo, "online")
            func head(key: String, length: Int) -> [UInt8] {
                Array(("POST /request HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(key)\r\n"
                    + "Content-Type: application/json\r\nExpect: 100-Continue\r\nContent-Length: \(length)\r\n\r\n").utf8)
            }
            let body = #"{"UID": "Echo-1", "Format": "ASCII", "Payload": "after 100"}"#
            let raw = try await TestElement.connectRaw(host: "127.0.0.1", port: harness.stack.httpPort)
            try await raw.send(head(key: TestStack.centralKeyHex, length: body.utf8.count))
            let interim = try await Self.readResponse(raw)
            #expect(interim.statusLine == "HTTP/1.1 100 Continue")
            try await raw.send(Array(body.utf8))
            guard case .request(nil, let tracking, let payload) = try await device.receive(timeout: .seconds(10)) else {
                Issue.record("the device did not receive the call")
                return
            }
            try await device.send(.response(uid: nil, tracking: tracking, code: .valid, payload: payload))
            let answer = try await Self.readResponse(raw)
            #expect(answer.statusLine == "HTTP/1.1 200 OK")
            #expect(answer.body == #"{"Code":0,"Payload":"after 100","Format":"ASCII"}"#)
            await raw.close()

            // Refused from the head alone: the final status comes first, no 100.
            for (key, length, status) in [
                ("00112233445566778899aabbccddeeff", body.utf8.count, "HTTP/1.1 401"),
                (TestStack.centralKeyHex, 4097, "HTTP/1.1 413"),
            ] {
                let refused = try await TestElement.connectRaw(host: "127.0.0.1", port: harness.stack.httpPort)
                try await refused.send(head(key: key, length: length))
                let answer = try await Self.readResponse(refused)
                #expect(answer.statusLine.hasPrefix(status), "\(answer.statusLine)")
                await refused.close()
            }
            await device.close()
        } catch {
            Issue.record("\(error)\n\(harness.output)")
        }
        await harness.stop()
    }

    @Test("HTTPS with a self-signed certificate, HTTP/2 negotiated by ALPN, HTTP/1.1 for clients that ask for it")
    func https() async throws {
        let certificate = try TestCertificate.makeSelfSigned()
        let harness = try await HTTPAPIHarness.start(
            http: ["SSLCrtFilename": certificate.certificatePath, "SSLKeyFilename": certificate.keyPath], withGateway: false)
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(certificateVerification: .none))
        do {
            var request = HTTPClientRequest(url: "https://127.0.0.1:\(harness.stack.httpPort)/request")
            request.method = .POST
            request.headers.add(name: "Authorization", value: "Bearer \(TestStack.centralKeyHex)")
            request.body = .bytes(ByteBuffer(string: #"{"UID": "Nobody", "Format": "JSON", "Payload": null}"#))
            let response = try await client.execute(request, timeout: .seconds(10))
            let body = String(buffer: try await response.body.collect(upTo: 1 << 20))
            #expect(response.status.code == 200)
            #expect(response.version == .http2)
            #expect(body == #"{"Code":160,"Payload":[],"Format":"BINARY"}"#)

            // A refused body over HTTP/2 ends its stream only (no `Connection` header, which
            // HTTP/2 forbids); the connection keeps serving.
            var large = request
            large.body = .bytes(ByteBuffer(repeating: UInt8(ascii: " "), count: 5000))
            let refused = try await client.execute(large, timeout: .seconds(10))
            #expect(refused.status.code == 413)
            #expect(refused.headers["connection"].isEmpty)
            _ = try await refused.body.collect(upTo: 1 << 20)
            let again = try await client.execute(request, timeout: .seconds(10))
            #expect(again.status.code == 200)
            _ = try await again.body.collect(upTo: 1 << 20)

            // A central that speaks HTTP/1.1 over TLS gets the same answers (its calls are
            // answered on the connection's event loop, its refusals by the responder).
            var http1Configuration = HTTPClient.Configuration(certificateVerification: .none)
            http1Configuration.httpVersion = .http1Only
            let http1Client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: http1Configuration)
            do {
                let overHTTP1 = try await http1Client.execute(request, timeout: .seconds(10))
                #expect(overHTTP1.version == .http1_1)
                #expect(overHTTP1.status.code == 200)
                #expect(String(buffer: try await overHTTP1.body.collect(upTo: 1 << 20)) == #"{"Code":160,"Payload":[],"Format":"BINARY"}"#)
                var unauthorized = request
                unauthorized.headers.replaceOrAdd(name: "Authorization", value: "Bearer 00")
                let refusedOverHTTP1 = try await http1Client.execute(unauthorized, timeout: .seconds(10))
                #expect(refusedOverHTTP1.status.code == 401)
                _ = try await refusedOverHTTP1.body.collect(upTo: 1 << 20)
            } catch {
                Issue.record("HTTP/1.1 over TLS: \(error)")
            }
            try? await http1Client.shutdown()

            let plain = try? await HTTPClient.shared.execute(
                HTTPClientRequest(url: "http://127.0.0.1:\(harness.stack.httpPort)/health"), timeout: .seconds(3))
            #expect(plain?.status.code != 200, "plain HTTP must not be served on the HTTPS port")
        } catch {
            Issue.record("\(error)\n\(harness.output)")
        }
        try? await client.shutdown()
        await harness.stop()
    }

    @Test("HTTPS: a connection whose TLS handshake does not finish within IdleTimeoutSec is closed; one that finishes is served")
    func tlsHandshakeDeadline() async throws {
        let certificate = try TestCertificate.makeSelfSigned()
        let harness = try await HTTPAPIHarness.start(
            http: ["SSLCrtFilename": certificate.certificatePath, "SSLKeyFilename": certificate.keyPath, "IdleTimeoutSec": 1],
            withGateway: false)
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(certificateVerification: .none))
        do {
            // No ClientHello at all, and a record header that never gets its body.
            for bytes in [[], [0x16, 0x03, 0x01, 0x02, 0x00]] as [[UInt8]] {
                let raw = try await TestElement.connectRaw(host: "127.0.0.1", port: harness.stack.httpPort)
                let opened = ContinuousClock.now
                if !bytes.isEmpty { try await raw.send(bytes) }
                #expect(await raw.waitForClose(timeout: .seconds(5)), "\(bytes): still open")
                #expect(ContinuousClock.now - opened >= .milliseconds(900))
                await raw.close()
            }
            // A handshake that finishes is not cut: calls go on past the deadline's time.
            for _ in 0..<3 {
                let response = try await client.execute(
                    HTTPClientRequest(url: "https://127.0.0.1:\(harness.stack.httpPort)/health"), timeout: .seconds(10))
                #expect(response.status.code == 200)
                _ = try await response.body.collect(upTo: 1 << 20)
                try await Task.sleep(for: .milliseconds(500))
            }
            let metrics = try await client.execute(
                HTTPClientRequest(url: "https://127.0.0.1:\(harness.stack.httpPort)/metrics"), timeout: .seconds(10))
            let body = String(buffer: try await metrics.body.collect(upTo: 1 << 22))
            #expect(body.contains("iots_http_connections_idle_closed_total 2"), "\(body)")
        } catch {
            Issue.record("\(error)\n\(harness.output)")
        }
        try? await client.shutdown()
        await harness.stop()
    }

    @Test("HTTP/2 bodies without a length: refused at MaxContentLength or before they are read, then the stream is reset: neither read on nor left open", arguments: [true, false])
    func http2BodyWithoutLength(authorized: Bool) async throws {
        let certificate = try TestCertificate.makeSelfSigned()
        let harness = try await HTTPAPIHarness.start(
            http: ["SSLCrtFilename": certificate.certificatePath, "SSLKeyFilename": certificate.keyPath], withGateway: false)
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(certificateVerification: .none))
        // A client that goes on sending until the server stops it (HTTP/2 announces no length),
        // at 8 MB/s, slower than loopback takes it: it only stops early if the server stops
        // reading. It gives up by itself after 10 s, which a server that reads on lets it reach.
        let body = EndlessBody(for: .seconds(10))
        var call = HTTPClientRequest(url: "https://127.0.0.1:\(harness.stack.httpPort)/request")
        call.method = .POST
        call.headers.add(name: "Authorization", value: "Bearer \(authorized ? TestStack.centralKeyHex : "00")")
        call.body = .stream(body, length: .unknown)
        let request = call
        let answered = Flag()
        let attempt = Task {
            let response = try await client.execute(request, timeout: .seconds(30))
            #expect(response.version == .http2)
            #expect(response.status.code == (authorized ? 413 : 401))
            _ = try? await response.body.collect(upTo: 1 << 20)
            #expect(await body.waitUntilStopped(within: .seconds(5)), "the refused body was still being read, \(body.bytesSent) bytes")
            answered.set()
        }
        #expect(await eventually(timeout: .seconds(20)) { answered.isSet }, "no answer within 20 s\n\(harness.output)")
        // The request must be over for the client too: a stream left open, unread, leaves the
        // client's upload stalled on flow control, and its shutdown waits for it.
        let closed = Flag()
        let shutdown = Task {
            try? await client.shutdown()
            closed.set()
        }
        #expect(await eventually(timeout: .seconds(5)) { closed.isSet }, "the refused request never ended: its stream was left open, unread")
        attempt.cancel()
        // The server's end also ends a request stuck on it, so the client's shutdown completes.
        await harness.stop()
        await shutdown.value
    }

    @Test("SIGTERM with an HTTPS client that stopped reading: http-api does not wait 5 s for its close_notify")
    func sigtermWithSilentHTTPSClient() async throws {
        let certificate = try TestCertificate.makeSelfSigned()
        let harness = try await HTTPAPIHarness.start(
            http: ["SSLCrtFilename": certificate.certificatePath, "SSLKeyFilename": certificate.keyPath], withGateway: false)
        // A real TLS client (openssl s_client) that completes its handshake and one keep-alive
        // request, then is frozen: it answers nothing more and keeps its socket open.
        let client = Process()
        client.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        client.arguments = ["openssl", "s_client", "-quiet", "-connect", "127.0.0.1:\(harness.stack.httpPort)", "-alpn", "http/1.1"]
        let input = Pipe()
        let output = PipeCollector()
        client.standardInput = input
        client.standardOutput = output.pipe
        client.standardError = FileHandle.nullDevice
        do {
            try client.run()
            defer {
                Foundation.kill(client.processIdentifier, SIGCONT)
                client.terminate()
            }
            input.fileHandleForWriting.write(Data("GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8))
            #expect(await output.waitFor("HTTP/1.1 200", timeout: .seconds(10)), "s_client printed: \(output.text)")
            Foundation.kill(client.processIdentifier, SIGSTOP)

            let api = harness.processes[harness.processes.count - 1]
            let started = ContinuousClock.now
            let status = await api.stop(timeout: .seconds(15))
            let took = ContinuousClock.now - started
            #expect(status == 0, "output:\n\(api.output)")
            // swift-nio-ssl waits 5 s by default for the peer's close_notify; http-api waits 1 s.
            #expect(took < .seconds(4), "shutdown took \(took)")
        } catch {
            Issue.record("\(error)\n\(harness.output)")
        }
        await harness.stop()
    }

    @Test("two http-api instances each get their own replies; SIGTERM lets a waiting call finish and deletes the stream")
    func twoInstances() async throws {
        let harness = try await HTTPAPIHarness.start()
        do {
            let portB = try FreePort.tcp()
            let second = try await harness.stack.startReady(
                "http-api", environment: ["IOTS_INSTANCE_ID": "api-2", "IOTS_HTTP_PORT": "\(portB)", "IOTS_ADMIN_PORT": "\(try FreePort.tcp())"])
            harness.extra.append(second)
            _ = try await harness.http(.POST, "/acl", body: Self.aclJSON)
            let device = try await harness.connect(Self.echo, key: Self.deviceKey)
            try await harness.waitForSession(Self.echo, "online")
            let rounds = 10
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for _ in 0..<(2 * rounds) {
                        guard case .request(nil, let tracking, let payload) = try await device.receive(timeout: .seconds(10)) else { return }
                        try await device.send(.response(uid: nil, tracking: tracking, code: .valid, payload: payload))
                    }
                }
                for index in 0..<rounds {
                    for (name, port) in [("api-1", harness.stack.httpPort), ("api-2", portB)] {
                        group.addTask {
                            let text = "\(name)#\(index)"
                            let answer = try await harness.http(
                                .POST, "/request", body: #"{"UID": "Echo-1", "Format": "UTF8", "Payload": "\#(text)"}"#, port: port)
                            #expect(answer.body == #"{"Code":0,"Payload":"\#(text)","Format":"UTF8"}"#)
                        }
                    }
                }
                try await group.waitForAll()
            }
            await device.close()

            // A call waiting at SIGTERM is still answered (0xA1 at its deadline), then the
            // instance exits cleanly and deletes its reply stream.
            let silent = try await harness.connect(Self.silent, key: Self.otherKey)
            try await harness.waitForSession(Self.silent, "online")
            let streamB = harness.keys.apiStream("api-2")
            #expect(try await harness.client.send(["EXISTS", .string(streamB)]).int == 1)
            async let waiting = harness.http(.POST, "/request", body: #"{"UID": "Silent", "Timeout": 2, "Format": "ASCII", "Payload": "?"}"#, port: portB)
            try await Task.sleep(for: .milliseconds(400))
            let status = await second.stop(timeout: .seconds(10))
            #expect(try await waiting.body == #"{"Code":161,"Payload":[],"Format":"BINARY"}"#)
            #expect(status == 0)
            #expect(try await harness.client.send(["EXISTS", .string(streamB)]).int == 0)
            await silent.close()
        } catch {
            Issue.record("\(error)\n\(harness.output)")
        }
        await harness.stop()
    }

    @Test("replies no router wrote on an instance's reply stream are counted and skipped; calls are still answered")
    func foreignReplies() async throws {
        let harness = try await HTTPAPIHarness.start()
        do {
            var empty = ByteBuffer()
            PayloadBlock.empty.write(to: &empty)
            let stream = harness.keys.apiStream("api-1")
            let malformed: [[(name: String, value: RedisArgument)]] = [
                [("hello", .string("world"))],  // no correlation id
                [("id", .string("x"))],  // no code
                [("id", .string("x")), ("code", .string("999")), ("p", .bytes(Array(empty.readableBytesView)))],
                [("id", .string("x")), ("code", .string("0")), ("p", .bytes([0xFF]))],  // not a payload block
            ]
            for fields in malformed {
                try await harness.client.xadd(stream, fields: fields)
            }
            // Well formed, for no call waiting here (a reply that arrives after its caller left).
            try await harness.client.xadd(
                stream, fields: [("id", .string("nobody")), ("code", .string("0")), ("p", .bytes(Array(empty.readableBytesView)))])
            let counted = await eventually {
                let metrics = (try? await harness.http(.GET, "/metrics").body) ?? ""
                return metrics.contains("iots_http_replies_malformed_total \(malformed.count)")
                    && metrics.contains("iots_http_replies_unmatched_total 1")
            }
            #expect(counted, "\(harness.output)")

            _ = try await harness.http(.POST, "/acl", body: Self.aclJSON)
            let device = try await harness.connect(Self.echo, key: Self.deviceKey)
            try await harness.waitForSession(Self.echo, "online")
            async let answer = harness.http(.POST, "/request", body: #"{"UID": "Echo-1", "Format": "ASCII", "Payload": "ok"}"#)
            guard case .request(nil, let tracking, let payload) = try await device.receive(timeout: .seconds(10)) else {
                Issue.record("the device got no request")
                return await harness.stop()
            }
            try await device.send(.response(uid: nil, tracking: tracking, code: .valid, payload: payload))
            #expect(try await answer.body == #"{"Code":0,"Payload":"ok","Format":"ASCII"}"#)
            await device.close()
        } catch {
            Issue.record("\(error)\n\(harness.output)")
        }
        await harness.stop()
    }

    @Test("PUT, GET and DELETE /devices/{uid}, GET /devices with filters, GET /sessions/central")
    func devices() async throws {
        let harness = try await HTTPAPIHarness.start()
        do {
            _ = try await harness.http(.POST, "/acl", body: Self.aclJSON)
            let put = try await harness.http(
                .PUT, "/devices/Pump%207", body: #"{"GroupName": "PLC", "AuthKey": "0f0e0d0c0b0a09080706050403020100"}"#)
            #expect(put.status == 200)
            #expect(try put.json()["UID"]?.stringValue == "Pump 7")
            #expect(try put.json()["status"]?.stringValue == "never-seen")

            let pump = try UID("Pump 7")
            let device = try await harness.connect(pump, key: try AuthKey(hex: "0f0e0d0c0b0a09080706050403020100"))
            try await harness.waitForSession(pump, "online")
            let got = try await harness.http(.GET, "/devices/Pump%207").json()
            #expect(got["GroupName"]?.stringValue == "PLC")
            #expect(got["status"]?.stringValue == "online")
            #expect(got["gateway"]?.stringValue == "gw-1")
            #expect(got["connectedSince"]?.stringValue?.hasSuffix("Z") == true)
            #expect(got["remoteAddress"]?.stringValue?.hasPrefix("127.0.0.1") == true)
            #expect(got["hasTelemetryToken"] == .bool(false))

            let all = try await harness.http(.GET, "/devices").json()
            #expect(all["total"]?.intValue == 3)
            #expect(all["items"]?.arrayValue?.compactMap { $0["UID"]?.stringValue } == ["Echo-1", "Pump 7", "Silent"])
            let online = try await harness.http(.GET, "/devices?status=online").json()
            #expect(online["items"]?.arrayValue?.compactMap { $0["UID"]?.stringValue } == ["Pump 7"])
            let plc = try await harness.http(.GET, "/devices?group=PLC&offset=1&limit=1").json()
            #expect(plc["total"]?.intValue == 2)
            #expect(plc["items"]?.arrayValue?.compactMap { $0["UID"]?.stringValue } == ["Silent"])
            let far = try await harness.http(.GET, "/devices?offset=99999999999999999999999")
            #expect(far.status == 200)
            #expect(try far.json()["items"]?.arrayValue?.isEmpty == true)
            #expect(try await harness.http(.GET, "/devices?offset=-1").status == 400)

            let central = try await harness.http(.GET, "/sessions/central").json()
            #expect(central["connected"] == .bool(false))
            #expect(central["status"]?.stringValue == "never-seen")

            // The central over TCP: connected, where and since when.
            let centralElement = try await harness.connect(.central, key: try AuthKey(hex: TestStack.centralKeyHex))
            try await harness.waitForSession(.central, "online")
            let connected = try await harness.http(.GET, "/sessions/central").json()
            #expect(connected["connected"] == .bool(true))
            #expect(connected["status"]?.stringValue == "online")
            #expect(connected["gateway"]?.stringValue == "gw-1")
            #expect(connected["connectedSince"]?.stringValue?.hasSuffix("Z") == true)
            #expect(connected["remoteAddress"]?.stringValue?.hasPrefix("127.0.0.1") == true)
            await centralElement.close(code: .maintenance)

            // A device that drops without Close is kept (KeepSessionSec 5 here) and listed so.
            let echo = try await harness.connect(Self.echo, key: Self.deviceKey)
            try await harness.waitForSession(Self.echo, "online")
            await echo.close()
            try await harness.waitForSession(Self.echo, "kept")
            let keptEcho = try await harness.http(.GET, "/devices/Echo-1").json()
            #expect(keptEcho["status"]?.stringValue == "kept")
            #expect(keptEcho["keptUntil"]?.stringValue?.hasSuffix("Z") == true)
            let kept = try await harness.http(.GET, "/devices?status=kept").json()
            #expect(kept["items"]?.arrayValue?.compactMap { $0["UID"]?.stringValue } == ["Echo-1"])
            let neverSeen = try await harness.http(.GET, "/devices?status=never-seen").json()
            #expect(neverSeen["items"]?.arrayValue?.compactMap { $0["UID"]?.stringValue } == ["Silent"])

            // PUT on an existing entry changes it (its group here).
            let moved = try await harness.http(
                .PUT, "/devices/Pump%207", body: #"{"GroupName": "Pumps", "AuthKey": "0f0e0d0c0b0a09080706050403020100"}"#)
            #expect(moved.status == 200)
            #expect(try moved.json()["GroupName"]?.stringValue == "Pumps")
            #expect(try await harness.http(.GET, "/devices/Pump%207").json()["GroupName"]?.stringValue == "Pumps")
            let pumps = try await harness.http(.GET, "/devices?group=Pumps").json()
            #expect(pumps["items"]?.arrayValue?.compactMap { $0["UID"]?.stringValue } == ["Pump 7"])

            let deleted = try await harness.http(.DELETE, "/devices/Pump%207")
            #expect(deleted.status == 204)
            #expect(await device.waitForClose(timeout: .seconds(5)), "a deleted device's session is closed")
            #expect(try await harness.http(.GET, "/devices/Pump%207").status == 404)
            #expect(try await harness.http(.DELETE, "/devices/Pump%207").status == 404)
            await device.close()

            // A device of a telemetry group: its token's expiry (TelemetryTokenExpMin 60).
            let meterKey = try AuthKey(hex: "1f1e1d1c1b1a19181716151413121110")
            _ = try await harness.http(.PUT, "/devices/Meter-1", body: #"{"GroupName": "Meters", "AuthKey": "\#(meterKey.hex)"}"#)
            let meter = try await harness.connect(try UID("Meter-1"), key: meterKey)
            guard case .telemetryToken = try await meter.receive(timeout: .seconds(5)) else {
                throw TestSupportError.timeout("no telemetry token for Meter-1")
            }
            let metered = try await harness.http(.GET, "/devices/Meter-1").json()
            #expect(metered["hasTelemetryToken"] == .bool(true))
            let expiry = metered["telemetryTokenExpiresAt"]?.stringValue.flatMap { try? Date($0, strategy: .iso8601) }
            #expect(expiry.map { abs($0.timeIntervalSinceNow - 3600) < 60 } == true, "\(metered)")
            await meter.close()

            // Added again, it has been seen before: offline (not never-seen), with its last-seen time.
            let again = try await harness.http(
                .PUT, "/devices/Pump%207", body: #"{"GroupName": "PLC", "AuthKey": "0f0e0d0c0b0a09080706050403020100"}"#)
            #expect(try again.json()["status"]?.stringValue == "offline")
            #expect(try again.json()["lastSeen"]?.stringValue?.hasSuffix("Z") == true)
        } catch {
            Issue.record("\(error)\n\(harness.output)")
        }
        await harness.stop()
    }

    @Test(
        "GET /openapi.yaml is a valid OpenAPI 3.1 document describing every endpoint; probes and metrics",
        .enabled(if: HTTPAPITests.python3Available, "python3 is not installed: cannot run openapi-spec-validator"))
    func openAPIAndProbes() async throws {
        let harness = try await HTTPAPIHarness.start(withGateway: false)
        do {
            let document = try await harness.http(.GET, "/openapi.yaml", key: nil)
            #expect(document.status == 200)
            for path in ["/acl:", "/request:", "/devices:", "/devices/{uid}:", "/sessions/central:", "/applications:", "/openapi.yaml:", "/health:", "/ready:", "/metrics:"] {
                #expect(document.body.contains("\n  \(path)\n"), "\(path) is not described")
            }
            let file = try TestStack.writeFile(document.body, name: "openapi.yaml")
            let (status, output) = try Self.run(
                "python3", "-c",
                "import sys; from openapi_spec_validator import validate; from openapi_spec_validator.readers import read_from_filename; "
                    + "d, _ = read_from_filename(sys.argv[1]); validate(d); print('valid', d['openapi']); "
                    + "print(' '.join(sorted(m.upper() + p for p, item in d['paths'].items() for m in item if m in ('get', 'put', 'post', 'delete', 'patch'))))",
                file)
            #expect(status == 0, "openapi-spec-validator (python3 -m pip install openapi-spec-validator): \(output)")
            #expect(output.contains("valid 3.1"))
            // Every operation the API serves, and nothing it does not.
            let operations = [
                "DELETE/devices/{uid}", "GET/applications", "GET/devices", "GET/devices/{uid}", "GET/health", "GET/metrics", "GET/openapi.yaml",
                "GET/ready", "GET/sessions/central", "POST/acl", "POST/request", "PUT/devices/{uid}",
            ]
            #expect(output.contains(operations.joined(separator: " ")), "\(output)")

            #expect(try await harness.http(.GET, "/health", key: nil).status == 200)
            #expect(try await harness.http(.GET, "/ready", key: nil).status == 200)
            _ = try await harness.http(.GET, "/nowhere")
            let metrics = try await harness.http(.GET, "/metrics", key: nil)
            #expect(metrics.body.contains(#"iots_http_requests_total{route="/ready",status="200"}"#), "\(metrics.body)")
            #expect(metrics.body.contains(#"iots_http_requests_total{route="unmatched",status="404"}"#))
            #expect(metrics.body.contains(#"iots_http_request_duration_seconds_bucket{route="/ready",status="200",le="#), "\(metrics.body)")
            #expect(metrics.body.contains(#"iots_http_request_duration_seconds_bucket{route="unmatched",status="404",le="#))
        } catch {
            Issue.record("\(error)\n\(harness.output)")
        }
        await harness.stop()
    }

    @Test(
        "schemathesis fuzzes every operation from the OpenAPI document: no 5xx, every answer as documented",
        .enabled(if: HTTPAPITests.schemathesisAvailable, "schemathesis is not installed (deploy/local/install-packages.sh installs it)"))
    func fuzzedAgainstOpenAPI() async throws {
        let harness = try await HTTPAPIHarness.start()
        do {
            let base = "http://127.0.0.1:\(harness.stack.httpPort)"
            // positive_data_acceptance is left out: JSON Schema's maxLength counts characters,
            // the protocol's 16-byte UIDs and group names count UTF-8 bytes, so schema-valid
            // non-ASCII names are rightly refused (400 naming the field).
            // In a scratch folder: schemathesis reads ./schemathesis.toml and keeps its example
            // database in ./.schemathesis. A body refused as too large (413, the harness allows
            // 4 096 bytes) is a rejection too.
            let settings = try TestStack.writeFile(
                "[checks.negative_data_rejection]\nexpected-statuses = [400, 401, 403, 404, 405, 406, 413, 422]\n", name: "schemathesis.toml")
            let scratch = (settings as NSString).deletingLastPathComponent
            let (status, output) = try Self.run(
                in: scratch, "python3", "-m", "schemathesis.cli", "--no-color", "run", "\(base)/openapi.yaml", "--url", base,
                "-H", "Authorization: Bearer \(TestStack.centralKeyHex)", "--max-examples", "20", "--seed", "20261121",
                "--request-timeout", "20", "--exclude-checks", "positive_data_acceptance")
            #expect(status == 0, "\(output)")
            #expect(output.contains("Tested: 11") && output.contains("No issues found"), "\(output)")
            #expect(try await harness.http(.GET, "/health", key: nil).status == 200, "the API survived the fuzzing")
        } catch {
            Issue.record("\(error)\n\(harness.output)")
        }
        await harness.stop()
    }

    // MARK: Helpers

    static let python3Available = (try? run("python3", "--version").status) == 0
    static let schemathesisAvailable = (try? run("python3", "-m", "schemathesis.cli", "--version").status) == 0

    /// Runs a command (in `directory`, the current one by default); returns its exit status
    /// and everything it printed.
    static func run(in directory: String? = nil, _ arguments: String...) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        if let directory {
            process.currentDirectoryURL = URL(fileURLWithPath: directory)
        }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Reads one HTTP/1.1 response (status line, headers by lowercased name, `Content-Length`
    /// body) byte by byte.
    static func readResponse(
        _ raw: TestElement.RawConnection, timeout: Duration = .seconds(5)
    ) async throws -> (statusLine: String, headers: [String: String], body: String) {
        var head: [UInt8] = []
        while !head.ends(with: Array("\r\n\r\n".utf8)) {
            head += try await raw.receive(count: 1, timeout: timeout)
        }
        let lines = String(decoding: head, as: UTF8.self).components(separatedBy: "\r\n")
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let length = headers["content-length"].flatMap { Int($0) } ?? 0
        let body = length > 0 ? try await raw.receive(count: length, timeout: timeout) : []
        return (lines[0], headers, String(decoding: body, as: UTF8.self))
    }
}

extension Array where Element: Equatable {
    fileprivate func ends(with suffix: [Element]) -> Bool {
        self.count >= suffix.count && Array(self.suffix(suffix.count)) == suffix
    }
}

/// A private concentrator for the HTTP API tests: redis, one router, one gateway (`gw-1`) and
/// one http-api (`api-1`), all real processes, with MaxContentLength 4096 and
/// MaxSecWaitResponse 5.
final class HTTPAPIHarness: @unchecked Sendable {
    // @unchecked: set in `start` and only read afterwards, except `extra`, which the test that
    // owns the harness appends to before any concurrent use.
    let redis: TestRedis
    let stack: TestStack
    let client: RedisClient
    let keys: KeySpace
    let processes: [ServiceProcess]
    var extra: [ServiceProcess] = []

    enum Method: String, Sendable {
        case GET, POST, PUT, DELETE
    }

    /// An HTTP answer, body as text.
    struct Answer: Sendable {
        var status: Int
        /// Header values by lowercased name.
        var headers: [String: String]
        var body: String

        func json() throws -> JSONValue {
            try JSONValue(parsing: self.body)
        }
    }

    private init(redis: TestRedis, stack: TestStack, client: RedisClient, processes: [ServiceProcess]) {
        self.redis = redis
        self.stack = stack
        self.client = client
        self.keys = KeySpace(prefix: stack.keyPrefix)
        self.processes = processes
    }

    /// Starts everything; `http` settings are merged into `HTTPServer`.
    static func start(http: [String: any Sendable] = [:], withGateway: Bool = true) async throws -> HTTPAPIHarness {
        let redis = try await TestRedis.start()
        var httpSettings: [String: any Sendable] = ["MaxContentLength": 4096, "MaxSecWaitResponse": 5]
        httpSettings.merge(http) { _, new in new }
        // Only `Meters` has telemetry: the other groups' devices receive no token at login.
        let groups: [String: any Sendable] = ["Meters": ["Telemetry": true, "TelemetryTokenExpMin": 60] as [String: any Sendable]]
        let stack = try TestStack(redisURL: redis.url, settings: ["HTTPServer": httpSettings, "KeepSessionSec": 5, "Groups": groups])
        var processes: [ServiceProcess] = []
        do {
            processes.append(try await stack.startReady("router", environment: ["IOTS_INSTANCE_ID": "router-1"]))
            if withGateway {
                processes.append(try await stack.startReady("tcp-gateway", environment: ["IOTS_INSTANCE_ID": "gw-1"]))
            }
            processes.append(try await stack.startReady("http-api", environment: ["IOTS_INSTANCE_ID": "api-1"]))
        } catch {
            for process in processes { process.kill() }
            redis.stop()
            throw error
        }
        return HTTPAPIHarness(redis: redis, stack: stack, client: try RedisClient(url: redis.url), processes: processes)
    }

    func stop() async {
        for process in (self.extra + self.processes).reversed() {
            _ = await process.stop(timeout: .seconds(10))
        }
        await self.client.close()
        self.redis.stop()
    }

    var output: String {
        (self.processes + self.extra).map { "=== \($0.name) \($0.pid)\n\($0.output)" }.joined(separator: "\n")
    }

    /// Calls the API on `port` (the first instance's by default) with the bearer `key`.
    func http(
        _ method: Method, _ path: String, body: String? = nil, key: String? = TestStack.centralKeyHex, scheme: String = "Bearer",
        port: Int? = nil
    ) async throws -> Answer {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port ?? self.stack.httpPort)\(path)")
        request.method = .init(rawValue: method.rawValue)
        if let key {
            request.headers.add(name: "Authorization", value: "\(scheme) \(key)")
        }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(15))
        let bytes = try await response.body.collect(upTo: 1 << 22)
        let headers = Dictionary(response.headers.map { ($0.name.lowercased(), $0.value) }) { first, _ in first }
        return Answer(status: Int(response.status.code), headers: headers, body: String(buffer: bytes))
    }

    /// Logs an element in on the gateway.
    func connect(_ uid: UID, key: AuthKey) async throws -> TestElement {
        try await TestElement.connect(host: "127.0.0.1", port: self.stack.tcpPort, uid: uid, key: key)
    }

    /// Waits until the router recorded `uid` in `state`.
    func waitForSession(_ uid: UID, _ state: String, timeout: Duration = .seconds(10)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if (try? await self.client.hgetString(self.keys.session(uid), field: "state")) == state { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestSupportError.timeout("session of \(uid) is not \(state)\n\(self.output)")
    }
}

/// Collects what a child process writes to a pipe, to wait for a line of it.
private final class PipeCollector: Sendable {
    let pipe = Pipe()
    private let collected = Mutex("")

    init() {
        self.pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard !data.isEmpty else {
                handle.readabilityHandler = nil
                return
            }
            self?.collected.withLock { $0 += String(decoding: data, as: UTF8.self) }
        }
    }

    /// Everything collected so far.
    var text: String { self.collected.withLock { $0 } }

    /// Whether `expected` appeared within `timeout`.
    func waitFor(_ expected: String, timeout: Duration) async -> Bool {
        await eventually(timeout: timeout) { self.text.contains(expected) }
    }
}

/// Set once from any task.
private final class Flag: Sendable {
    private let state = Mutex(false)

    var isSet: Bool { self.state.withLock { $0 } }

    func set() {
        self.state.withLock { $0 = true }
    }
}

/// A request body of 16 KiB chunks, one every 2 ms, that goes on until the client stops pulling
/// it or `limit` passes; counts what it handed over.
private final class EndlessBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer

    private struct State {
        var bytesSent = 0
        var lastPull = ContinuousClock.now
    }

    private let chunk = ByteBuffer(repeating: UInt8(ascii: " "), count: 16 << 10)
    private let deadline: ContinuousClock.Instant
    private let state = Mutex(State())

    init(for limit: Duration) {
        self.deadline = .now + limit
    }

    var bytesSent: Int { self.state.withLock { $0.bytesSent } }

    /// Whether no chunk was pulled for half a second at some point within `timeout`.
    func waitUntilStopped(within timeout: Duration) async -> Bool {
        await eventually(timeout: timeout) { ContinuousClock.now - self.state.withLock { $0.lastPull } > .milliseconds(500) }
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        let body: EndlessBody

        mutating func next() async -> ByteBuffer? {
            guard ContinuousClock.now < self.body.deadline else { return nil }
            try? await Task.sleep(for: .milliseconds(2))
            self.body.state.withLock {
                $0.bytesSent += self.body.chunk.readableBytes
                $0.lastPull = .now
            }
            return self.body.chunk
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(body: self)
    }
}
