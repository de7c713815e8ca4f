import Foundation
import IoTSocket
import Messaging
import NIOCore
import RedisBus
import Testing
import TestSupport

/// tcp-gateway on its own (no router): connection set-up, roles, liveness, router commands and
/// draining, against a real redis-server and the real executable.
@Suite("tcp-gateway: set-up, sessions, commands and draining")
struct GatewayHandshakeTests {
    static let deviceUID = try! UID("dev-1")
    static let deviceKey = try! AuthKey(hex: "11112222333344445555666677778888")
    static let centralKey = try! AuthKey(hex: TestStack.centralKeyHex)

    // MARK: Initiation

    @Test("an unknown version is refused and the connection closed")
    func unknownVersionRefused() async throws {
        let gateway = try await GatewayUnderTest.start()
        defer { gateway.stop() }
        let raw = try await gateway.connectRaw()
        try await raw.send([0x02, 0x00, 0x00, 0x00])
        let response = try await raw.receiveInitiationResponse()
        #expect(response == .refused)
        #expect(await raw.waitForClose())

        await #expect(throws: TestElementError.self) {
            _ = try await gateway.connect(version: 0x05)
        }
    }

    @Test("TLS asked without a certificate is refused")
    func tlsWithoutCertificateRefused() async throws {
        let gateway = try await GatewayUnderTest.start()
        defer { gateway.stop() }
        do {
            _ = try await gateway.connect(tls: true)
            Issue.record("TLS login succeeded without a certificate")
        } catch TestElementError.initiationRefused(let response) {
            #expect(response == .refused)
        }
        #expect(try await gateway.refusedLogins(reason: "tls_unavailable") == 1)
    }

    @Test("TLS login with a self-signed certificate, then ping → pong over TLS")
    func tlsLogin() async throws {
        let gateway = try await GatewayUnderTest.startWithTLS()
        defer { gateway.stop() }
        let device = try await gateway.connect(tls: true)
        defer { Task { await device.close() } }
        try await device.send(.ping)
        #expect(try await device.receive() == .pong)
        _ = try await gateway.openEntry(for: Self.deviceUID)
    }

    @Test("a TLS certificate file that cannot be read stops the start-up, naming key and file")
    func badCertificateFile() async throws {
        let gateway = try await GatewayUnderTest.start(
            tcpServer: ["SSLCrtFilename": "/nonexistent/cert.pem", "SSLKeyFilename": "/nonexistent/key.pem"], waitReady: false)
        defer { gateway.stop() }
        #expect(await gateway.process.waitForExit(timeout: .seconds(10)))
        #expect(gateway.process.exitStatus == 78)
        #expect(gateway.process.output.contains("SSLCrtFilename"))
        #expect(gateway.process.output.contains("/nonexistent/cert.pem"))
    }

    @Test("a full gateway answers the initiation with the configured redirect")
    func fullGatewayRedirects() async throws {
        let gateway = try await GatewayUnderTest.start(tcpServer: ["SlotsCount": 1, "RedirectHost": "gw2.example", "RedirectPort": 50506])
        defer { gateway.stop() }
        let first = try await gateway.connect()
        defer { Task { await first.close() } }
        do {
            _ = try await gateway.connect()
            Issue.record("a second session fitted in one slot")
        } catch TestElementError.initiationRefused(let response) {
            #expect(response.rule == .redirect(host: "gw2.example", port: 50506))
        }
    }

    // MARK: Authentication

    @Test("a good key is accepted and the session is announced to the router")
    func goodKeyAccepted() async throws {
        let gateway = try await GatewayUnderTest.start()
        defer { gateway.stop() }
        let device = try await gateway.connect(maxTransmissionLength: 1000)
        defer { Task { await device.close() } }
        let opened = try await gateway.openEntry(for: Self.deviceUID)
        #expect(opened.address.gateway == gateway.instanceID)
        #expect(!opened.address.connection.isEmpty)
        #expect(opened.maxTransmissionLength == 1000)
        #expect(opened.remoteAddress.hasPrefix("127.0.0.1:"))
    }

    @Test("a wrong key gets validation 0x00, a close and an auth-refused event")
    func wrongKeyRefused() async throws {
        let gateway = try await GatewayUnderTest.start()
        defer { gateway.stop() }
        let raw = try await gateway.connectRaw()
        try await raw.send([0x01, 0x00, 0x00, 0x00])
        #expect(try await raw.receiveInitiationResponse() == .accepted)
        let challenge = try Challenge(bytes: try await raw.receive(count: 16))
        var answer = ByteBuffer()
        ChallengeAnswer(uid: Self.deviceUID, key: try AuthKey(hex: "ffffffffffffffffffffffffffffffff"), challenge: challenge).write(to: &answer)
        try await raw.send(Array(answer.readableBytesView))
        #expect(try await raw.receive(count: 1) == [0x00])
        #expect(await raw.waitForClose())

        let event = try await gateway.event(kind: "auth-refused")
        #expect(event.string("uid") == "dev-1")
        #expect(event.string("detail") == "bad key")
        #expect(event.string("gw") == gateway.instanceID)
        #expect(try await gateway.refusedLogins(reason: "bad_key") == 1)

        await #expect(throws: TestElementError.self) {
            _ = try await gateway.connect(key: try AuthKey(hex: "00000000000000000000000000000001"))
        }
    }

    @Test("repeated failed logins from one address are answered more and more slowly")
    func repeatedFailuresSlowedDown() async throws {
        let gateway = try await GatewayUnderTest.start()
        defer { gateway.stop() }
        let wrongKey = try AuthKey(hex: "ffffffffffffffffffffffffffffffff")
        var elapsed: [Duration] = []
        for _ in 0..<3 {
            let raw = try await gateway.connectRaw()
            try await raw.send([0x01, 0x00, 0x00, 0x00])
            #expect(try await raw.receiveInitiationResponse() == .accepted)
            let challenge = try Challenge(bytes: try await raw.receive(count: 16))
            var answer = ByteBuffer()
            ChallengeAnswer(uid: Self.deviceUID, key: wrongKey, challenge: challenge).write(to: &answer)
            let sent = ContinuousClock.now
            try await raw.send(Array(answer.readableBytesView))
            #expect(try await raw.receive(count: 1) == [0x00])
            elapsed.append(ContinuousClock.now - sent)
            #expect(await raw.waitForClose())
        }
        // First refusal at once, then 100 ms, then 200 ms (doubling, capped at 2 s). Only the
        // lower bounds are asserted: a loaded machine can slow any answer, never speed one up.
        #expect(elapsed[1] >= .milliseconds(90))
        #expect(elapsed[2] >= .milliseconds(190))
    }

    @Test("an unknown UID is refused")
    func unknownUIDRefused() async throws {
        let gateway = try await GatewayUnderTest.start()
        defer { gateway.stop() }
        do {
            _ = try await gateway.connect(uid: try UID("stranger"))
            Issue.record("an unknown UID logged in")
        } catch TestElementError.validationRefused {
        }
        let event = try await gateway.event(kind: "auth-refused")
        #expect(event.string("uid") == "stranger")
        #expect(event.string("detail") == "unknown uid")
    }

    @Test("the central logs in with the central key")
    func centralLogin() async throws {
        let gateway = try await GatewayUnderTest.start()
        defer { gateway.stop() }
        let central = try await gateway.connect(uid: .central, key: Self.centralKey)
        defer { Task { await central.close() } }
        _ = try await gateway.openEntry(for: .central)
        do {
            _ = try await gateway.connect(uid: .central, key: Self.deviceKey)
            Issue.record("the central logged in with a wrong key")
        } catch TestElementError.validationRefused {
        }
    }

    @Test("a set-up that stalls is closed after the deadline")
    func stalledHandshakeClosed() async throws {
        let gateway = try await GatewayUnderTest.start(tcpServer: ["HandshakeTimeoutSec": 1])
        defer { gateway.stop() }
        // Silent from the start.
        let silent = try await gateway.connectRaw()
        // Sends the initiation, then never answers the challenge.
        let stalled = try await gateway.connectRaw()
        try await stalled.send([0x01, 0x00, 0x00, 0x00])
        #expect(try await stalled.receiveInitiationResponse() == .accepted)
        _ = try await stalled.receive(count: 16)
        // HandshakeTimeoutSec is 1 here.
        #expect(await silent.waitForClose(timeout: .seconds(4)))
        #expect(await stalled.waitForClose(timeout: .seconds(4)))
        #expect(try await gateway.metric("iots_gateway_handshake_timeouts_total") >= 2)
    }

    @Test("transmissions pipelined right after the answer are not lost")
    func pipelinedAfterAnswer() async throws {
        let gateway = try await GatewayUnderTest.start()
        defer { gateway.stop() }
        let raw = try await gateway.connectRaw()
        try await raw.send([0x01, 0x00, 0x00, 0x00])
        #expect(try await raw.receiveInitiationResponse() == .accepted)
        let challenge = try Challenge(bytes: try await raw.receive(count: 16))
        var bytes = ByteBuffer()
        ChallengeAnswer(uid: Self.deviceUID, key: Self.deviceKey, challenge: challenge).write(to: &bytes)
        Transmission.ping.write(to: &bytes)
        try await raw.send(Array(bytes.readableBytesView))
        // Validation 0x01, then the Pong (ToT 0x2).
        #expect(try await raw.receive(count: 2) == [0x01, 0x20])
        await raw.close()
    }

    // MARK: PROXY protocol (TCPServer.ProxyProtocol)

    /// Sends `header` (in two pieces, to cross reads), then logs the test device in by hand.
    private static func login(through gateway: GatewayUnderTest, header: [UInt8]) async throws -> TestElement.RawConnection {
        let raw = try await gateway.connectRaw()
        let cut = header.count / 2
        try await raw.send(Array(header[..<cut]))
        try await Task.sleep(for: .milliseconds(50))
        try await raw.send(Array(header[cut...]) + [0x01, 0x00, 0x00, 0x00])
        #expect(try await raw.receiveInitiationResponse() == .accepted)
        let challenge = try Challenge(bytes: try await raw.receive(count: 16))
        var answer = ByteBuffer()
        ChallengeAnswer(uid: Self.deviceUID, key: Self.deviceKey, challenge: challenge).write(to: &answer)
        try await raw.send(Array(answer.readableBytesView))
        #expect(try await raw.receive(count: 1) == [0x01])
        return raw
    }

    @Test("PROXY v1 and v2 headers name the device's address; a connection without one is refused")
    func proxyProtocol() async throws {
        let gateway = try await GatewayUnderTest.start(tcpServer: ["ProxyProtocol": true])
        defer { gateway.stop() }

        let first = try await Self.login(through: gateway, header: Array("PROXY TCP4 203.0.113.7 10.0.0.2 4242 50505\r\n".utf8))
        #expect(try await gateway.openEntry(for: Self.deviceUID).remoteAddress == "203.0.113.7:4242")
        await first.close()
        _ = try await gateway.closeEntry(for: Self.deviceUID)

        // Version 2, PROXY command, TCP over IPv6: 2001:db8::7 port 4243 → ::1 port 50505.
        var v2: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x21, 0x21, 0x00, 36]
        v2 += [0x20, 0x01, 0x0D, 0xB8] + Array(repeating: 0, count: 11) + [0x07]
        v2 += Array(repeating: 0, count: 15) + [0x01]
        v2 += [0x10, 0x93, 0xC5, 0x59]
        let second = try await Self.login(through: gateway, header: v2)
        try await gateway.eventually("the second session opened") {
            let opened = try await gateway.redis.xrange(gateway.keys.routerStream).compactMap { entry -> String? in
                guard case .sessionOpened(let opened) = try RouterMessage(entry: entry) else { return nil }
                return opened.remoteAddress
            }
            return opened.count == 2 && opened[1] == "[2001:db8::7]:4243"
        }
        await second.close()

        // Straight to the initiation, as a device bypassing the balancer would: closed unanswered.
        let direct = try await gateway.connectRaw()
        try await direct.send([0x01, 0x00, 0x00, 0x00])
        #expect(await direct.waitForClose())
        #expect(try await gateway.refusedLogins(reason: "proxy_header") == 1)
    }

    // MARK: Sessions

    @Test("ping is answered with pong and not published")
    func pingPong() async throws {
        let gateway = try await GatewayUnderTest.start()
        defer { gateway.stop() }
        let device = try await gateway.connect()
        defer { Task { await device.close() } }
        for _ in 0..<3 {
            try await device.send(.ping)
            #expect(try await device.receive() == .pong)
        }
        let request = Transmission.request(uid: nil, tracking: 7, payload: try PayloadBlock(format: .ascii, data: Array("hi".utf8)))
        try await device.send(request)
        let frames = try await gateway.routerMessages(count: 2)
        guard case .transmission(let address, let frame) = frames[1] else {
            Issue.record("expected the request right after the open, got \(frames[1])")
            return
        }
        #expect(address.uid == Self.deviceUID)
        var expected = ByteBuffer()
        request.write(to: &expected)
        #expect(frame == Array(expected.readableBytesView))
    }

    @Test("transmissions split across reads, and several in one read, arrive whole and in order")
    func framesAcrossReads() async throws {
        let gateway = try await GatewayUnderTest.start()
        defer { gateway.stop() }
        let device = try await gateway.connect()
        defer { Task { await device.close() } }
        let payload = try PayloadBlock(format: .binary, data: (0..<100).map { UInt8($0 * 2 % 256) })
        let requests = (1...3).map { Transmission.request(uid: nil, tracking: UInt16($0), payload: payload) }
        var bytes = ByteBuffer()
        for request in requests {
            request.write(to: &bytes)
        }
        let wire = Array(bytes.readableBytesView)
        // The first request in three pieces (header, mid-payload, rest + the start of the
        // second), each its own read; then the remaining two together.
        let cuts = [1, 50, wire.count / 3 + 20]
        var start = 0
        for cut in cuts {
            try await device.sendRaw(Array(wire[start..<cut]))
            start = cut
            try await Task.sleep(for: .milliseconds(50))
        }
        try await device.sendRaw(Array(wire[start...]))
        let frames = try await gateway.routerMessages(count: 4)
        var expected: [[UInt8]] = []
        for request in requests {
            var one = ByteBuffer()
            request.write(to: &one)
            expected.append(Array(one.readableBytesView))
        }
        let published = frames.dropFirst().compactMap { message -> [UInt8]? in
            guard case .transmission(_, let frame) = message else { return nil }
            return frame
        }
        #expect(published == expected)
        // Still a working session afterwards.
        try await device.send(.ping)
        #expect(try await device.receive() == .pong)
    }

    @Test("a malformed transmission gets Close 0x00, then the connection ends")
    func malformedFrameClosed() async throws {
        let gateway = try await GatewayUnderTest.start()
        defer { gateway.stop() }
        let device = try await gateway.connect()
        try await device.sendRaw([0x70])  // ToT 0x7 does not exist
        #expect(try await device.receive() == .close(.protocolError))
        #expect(await device.waitForClose())
        let closed = try await gateway.closeEntry(for: Self.deviceUID)
        #expect(closed.code == .protocolError)
        #expect(try await gateway.metric("iots_gateway_protocol_errors_total{reason=\"malformed\"}") == 1)
    }

    @Test("a transmission announcing more than SlotsSize is refused without its body")
    func oversizeRefusedWithoutBody() async throws {
        let gateway = try await GatewayUnderTest.start()
        defer { gateway.stop() }
        let device = try await gateway.connect()
        // Request, tracking 1, binary payload announcing 65,535 bytes; the body is never sent.
        try await device.sendRaw([0x30, 0x00, 0x01, 0x00, 0xFF, 0xFF])
        #expect(try await device.receive() == .close(.protocolError))
        #expect(await device.waitForClose())
        #expect(try await gateway.metric("iots_gateway_protocol_errors_total{reason=\"oversize\"}") == 1)
    }

    @Test("an object sending a UID (RTE = 1) breaks its role: Close 0x00")
    func objectWithUIDClosed() async throws {
        let gateway = try await GatewayUnderTest.start()
        defer { gateway.stop() }
        let device = try await gateway.connect()
        try await device.send(.request(uid: try UID("other"), tracking: 1, payload: try PayloadBlock(format: .binary, data: [1])))
        #expect(try await device.receive() == .close(.protocolError))
        #expect(await device.waitForClose())
        // Nothing of it reached the router: only the open and the close.
        let messages = try await gateway.routerMessages(count: 2)
        #expect(messages.allSatisfy { if case .transmission = $0 { false } else { true } })
    }

    @Test(
        "damaged transmissions after login are taken or answered with Close 0x00: never a hang, never a crash",
        arguments: [false, true])
    func damagedTransmissions(fromCentral: Bool) async throws {
        let gateway = try await GatewayUnderTest.start(tcpServer: ["CentralMaxTransmissionLength": 4096])
        defer { gateway.stop() }
        let (uid, key) = fromCentral ? (UID.central, Self.centralKey) : (Self.deviceUID, Self.deviceKey)
        let maximumLength = fromCentral ? 4096 : 128  // this gateway's limits: central, SlotsSize for objects
        var generator = SeededGenerator(seed: fromCentral ? 0xC3A7 : 0xDA3A_6ED)
        var refused = 0
        var outcomes: [String: Int] = [:]
        for _ in 0..<300 {
            let sent = try Self.completed(GeneratedTransmissions.damagedFrame(&generator), maximumLength: maximumLength)
            let device = try await gateway.connect(uid: uid, key: key)
            try await device.sendRaw(sent.bytes + Transmission.ping.wireBytes)
            // Every ping up to the first bad frame is answered; our ping last.
            var pongsDue = sent.pingsBeforeError + (sent.fullyValid ? 1 : 0)
            while true {
                do {
                    let answer = try await device.receive()
                    if answer == .pong, pongsDue > 0 {
                        pongsDue -= 1
                        if pongsDue == 0 && sent.fullyValid {
                            outcomes["answered", default: 0] += 1
                            break
                        }
                    } else if answer == .close(.protocolError) {
                        #expect(await device.waitForClose(), "\(sent.bytes): still open after Close 0x00")
                        refused += 1
                        outcomes["Close 0x00", default: 0] += 1
                        break
                    } else {
                        Issue.record("\(sent.bytes): unexpected \(answer)")
                        break
                    }
                } catch TestElementError.closedByServer {
                    // Only the device's own Close ends a session without a word.
                    #expect(sent.closes, "\(sent.bytes): the connection ended without Close 0x00")
                    outcomes["device's Close", default: 0] += 1
                    break
                } catch TestElementError.timeout {
                    Issue.record("\(sent.bytes): no answer in 5 s; gateway output:\n\(gateway.process.output)")
                    break
                }
            }
            await device.close()
        }
        #expect(gateway.process.isRunning, "output:\n\(gateway.process.output)")
        // The shapes reach every outcome, and each Close 0x00 was counted.
        #expect(outcomes.count == 3 && outcomes.values.allSatisfy { $0 >= 10 }, "\(outcomes)")
        try await gateway.eventually("\(refused) protocol errors counted") {
            try await gateway.metricSum("iots_gateway_protocol_errors_total") == Double(refused)
        }
        let device = try await gateway.connect(uid: uid, key: key)
        try await device.send(.ping)
        #expect(try await device.receive() == .pong)
    }

    /// `bytes` made whole for the stream decoder: zeros appended until every frame it starts
    /// is complete, so the gateway has all it needs to decide (a truncated frame would only be
    /// waited for). Also says what a decoder finds in it, up to its first malformed frame.
    private static func completed(
        _ bytes: [UInt8], maximumLength: Int
    ) throws -> (bytes: [UInt8], pingsBeforeError: Int, closes: Bool, fullyValid: Bool) {
        var bytes = bytes
        var offset = 0
        var pings = 0
        var closes = false
        while offset < bytes.count {
            var rest = ByteBuffer(bytes: bytes[offset...])
            let length: Int?
            do {
                length = try Transmission.frameLength(peekingAt: rest)
            } catch {
                return (bytes, pings, closes, false)
            }
            guard let length else {
                bytes.append(0)  // the length fields are not all there yet
                continue
            }
            guard length <= maximumLength else { return (bytes, pings, closes, false) }
            if offset + length > bytes.count {
                bytes += [UInt8](repeating: 0, count: offset + length - bytes.count)
                rest = ByteBuffer(bytes: bytes[offset...])
            }
            guard let transmission = try? Transmission.read(from: &rest) else { return (bytes, pings, closes, false) }
            if case .ping = transmission { pings += 1 }
            if case .close = transmission { closes = true }
            offset += length
        }
        return (bytes, pings, closes, true)
    }

    @Test("an idle session is pinged; no answer closes it without a Close (session kept)")
    func idleSessionPingedThenDropped() async throws {
        let gateway = try await GatewayUnderTest.start(tcpServer: ["IdleSec": 1, "PongTimeoutSec": 1])
        defer { gateway.stop() }
        let device = try await gateway.connect()
        #expect(try await device.receive(timeout: .seconds(4)) == .ping)
        do {
            let unexpected = try await device.receive(timeout: .seconds(4))
            Issue.record("expected the connection to end, got \(unexpected)")
        } catch TestElementError.closedByServer {
        }
        let closed = try await gateway.closeEntry(for: Self.deviceUID)
        #expect(closed.code == nil)
    }

    // MARK: Router commands

    @Test("a write command reaches the device; one longer than its stated maximum is dropped")
    func writeCommandDelivered() async throws {
        let gateway = try await GatewayUnderTest.start()
        defer { gateway.stop() }
        let device = try await gateway.connect(maxTransmissionLength: 16)
        defer { Task { await device.close() } }
        let connection = try await gateway.openEntry(for: Self.deviceUID).address.connection

        let tooLong = Transmission.request(uid: nil, tracking: 1, payload: try PayloadBlock(format: .binary, data: Array(repeating: 7, count: 40)))
        let fits = Transmission.request(uid: nil, tracking: 2, payload: try PayloadBlock(format: .binary, data: [1, 2, 3]))
        try await gateway.command(.write(connection: connection, frame: tooLong.wireBytes))
        try await gateway.command(.write(connection: connection, frame: fits.wireBytes))
        #expect(try await device.receive() == fits)
        #expect(try await gateway.metric("iots_gateway_frames_dropped_total{reason=\"oversize\"}") == 1)

        try await gateway.command(.write(connection: "nobody", frame: fits.wireBytes))
        try await gateway.eventually("the unknown connection is counted") {
            try await gateway.metric("iots_gateway_frames_dropped_total{reason=\"unknown_connection\"}") == 1
        }
    }

    @Test("a device that stops reading is dropped once 1 MiB waits for it; its session is kept")
    func slowConsumerDropped() async throws {
        let gateway = try await GatewayUnderTest.start()
        defer { gateway.stop() }
        let device = try await gateway.connect()
        defer { Task { await device.close() } }
        let connection = try await gateway.openEntry(for: Self.deviceUID).address.connection
        try await device.stopReading()
        // 60 KiB requests until the gateway gives up: the kernel's buffers (a few MiB on
        // loopback) fill first, then 1 MiB in the gateway. 64 MiB in all at most.
        let big = Transmission.request(uid: nil, tracking: 1, payload: try PayloadBlock(format: .binary, data: Array(repeating: 0x5A, count: 60 << 10)))
        var sent = 0
        while device.isOpen, sent < 64 << 20 {
            for _ in 0..<16 {
                try await gateway.command(.write(connection: connection, frame: big.wireBytes))
                sent += 60 << 10
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        let out = try await gateway.metric("iots_gateway_frames_out_total")
        let dropped = try await gateway.metric("iots_gateway_frames_dropped_total{reason=\"oversize\"}")
        #expect(await device.waitForClose(timeout: .seconds(5)), "still open after \(sent) bytes, out \(out) dropped \(dropped)")
        try await gateway.eventually("the drop is counted") {
            try await gateway.metric("iots_gateway_slow_consumer_closes_total") == 1
        }
        // No Close was sent or received: the router keeps the session.
        let closed = try await gateway.closeEntry(for: Self.deviceUID)
        #expect(closed.code == nil)
    }

    @Test("a close command sends Close with its code and ends the session")
    func closeCommand() async throws {
        let gateway = try await GatewayUnderTest.start()
        defer { gateway.stop() }
        let device = try await gateway.connect()
        let connection = try await gateway.openEntry(for: Self.deviceUID).address.connection
        try await gateway.command(.close(connection: connection, code: .maintenance))
        #expect(try await device.receive() == .close(.maintenance))
        #expect(await device.waitForClose())
        #expect(try await gateway.closeEntry(for: Self.deviceUID).code == .maintenance)
    }

    @Test("a Close from the device is reported with its code")
    func closeFromDevice() async throws {
        let gateway = try await GatewayUnderTest.start()
        defer { gateway.stop() }
        let device = try await gateway.connect()
        await device.close(code: .sleeping)
        #expect(try await gateway.closeEntry(for: Self.deviceUID).code == .sleeping)
    }

    // MARK: Draining

    @Test("SIGTERM: sessions get Close 0xA1, the close is published, the gateway exits 0")
    func sigtermDrains() async throws {
        let gateway = try await GatewayUnderTest.start()
        defer { gateway.stop() }
        let device = try await gateway.connect()
        let central = try await gateway.connect(uid: .central, key: Self.centralKey)
        _ = try await gateway.openEntry(for: Self.deviceUID)
        #expect(try await gateway.redis.zscore(gateway.keys.gateways, member: .string(gateway.instanceID)) != nil)

        let status = Task { await gateway.process.stop(timeout: .seconds(15)) }
        #expect(try await device.receive() == .close(.freeingResources))
        #expect(try await central.receive() == .close(.freeingResources))
        #expect(await device.waitForClose())
        #expect(await status.value == 0, "output:\n\(gateway.process.output)")

        #expect(try await gateway.closeEntry(for: Self.deviceUID).code == .freeingResources)
        #expect(try await gateway.closeEntry(for: .central).code == .freeingResources)
        #expect(try await gateway.redis.zscore(gateway.keys.gateways, member: .string(gateway.instanceID)) == nil)
        #expect(try await gateway.redis.exists(gateway.keys.gatewayStream(gateway.instanceID)) == false)
    }

    @Test("SIGTERM: a connection still waiting for its initiation is answered with the redirect, not cut off")
    func sigtermRedirectsPendingInitiation() async throws {
        let gateway = try await GatewayUnderTest.start(tcpServer: ["RedirectHost": "gw2.example", "RedirectPort": 50506])
        defer { gateway.stop() }
        let device = try await gateway.connect()
        _ = try await gateway.openEntry(for: Self.deviceUID)
        // Connected, initiation not sent yet, as draining begins.
        let raw = try await gateway.connectRaw()

        let status = Task { await gateway.process.stop(timeout: .seconds(15)) }
        #expect(try await device.receive() == .close(.freeingResources))
        // The drain has reached every connection by now; the initiation comes just after.
        try await Task.sleep(for: .milliseconds(100))
        var initiation = ByteBuffer()
        Initiation(tls: false).write(to: &initiation)
        try await raw.send(Array(initiation.readableBytesView))
        #expect(try await raw.receiveInitiationResponse().rule == .redirect(host: "gw2.example", port: 50506))
        #expect(await raw.waitForClose())
        #expect(await status.value == 0, "output:\n\(gateway.process.output)")
    }

    @Test("SIGTERM with a TLS device that no longer reads (a dead cellular link): the gateway does not wait 5 s for its close_notify")
    func sigtermWithSilentTLSPeer() async throws {
        let gateway = try await GatewayUnderTest.startWithTLS()
        defer { gateway.stop() }
        let device = try await gateway.connect(tls: true)
        defer { Task { await device.close() } }
        _ = try await gateway.openEntry(for: Self.deviceUID)
        // The device answers nothing from now on, TLS close_notify included, and keeps its socket.
        try await device.stopReading()

        let started = ContinuousClock.now
        let status = await gateway.process.stop(timeout: .seconds(15))
        let took = ContinuousClock.now - started
        #expect(status == 0, "output:\n\(gateway.process.output)")
        // swift-nio-ssl waits 5 s by default for the peer's close_notify before closing the
        // socket; the gateway waits 1 s (TLSServerFiles), so its drain ends well before.
        #expect(took < .seconds(4), "drain took \(took)")
        #expect(try await gateway.closeEntry(for: Self.deviceUID).code == .freeingResources)
    }
}

/// A redis-server and one tcp-gateway process with a known instance id, the device of
/// ``GatewayHandshakeTests/deviceUID`` in the ACL, and helpers to read what it published.
private struct GatewayUnderTest {
    let redisServer: TestRedis
    let stack: TestStack
    let process: ServiceProcess
    let redis: RedisConnection
    let keys: KeySpace
    let instanceID: String
    let tcpPort: Int

    /// A gateway with a fresh self-signed certificate, so devices may ask for TLS.
    static func startWithTLS() async throws -> GatewayUnderTest {
        let certificate = try TestCertificate.makeSelfSigned()
        return try await Self.start(tcpServer: ["SSLCrtFilename": certificate.certificatePath, "SSLKeyFilename": certificate.keyPath])
    }

    /// - Parameter tcpServer: `TCPServer` keys over the test defaults (SlotsSize 128; the
    ///   handshake deadline is the product's 10 s, which a login on a loaded CI machine has
    ///   been seen to need more than 1 s of).
    static func start(tcpServer: [String: any Sendable] = [:], waitReady: Bool = true) async throws -> GatewayUnderTest {
        let redisServer = try await TestRedis.start()
        let tcpPort = try FreePort.tcp()
        var server: [String: any Sendable] = ["Addr": "127.0.0.1", "Port": tcpPort, "SlotsSize": 128]
        server.merge(tcpServer) { $1 }
        let stack = try TestStack(redisURL: redisServer.url, settings: ["TCPServer": server])
        let keys = KeySpace(prefix: stack.keyPrefix)
        let redis = try await RedisConnection.connect(to: redisServer.redisURL)
        let entry = ACLEntry(group: try GroupName("tests"), uid: GatewayHandshakeTests.deviceUID, key: GatewayHandshakeTests.deviceKey)
        try await redis.hset(keys.acl, fields: [(GatewayHandshakeTests.deviceUID.hex, .bytes(ACLRecord.encode(entry)))])
        let instanceID = "gw-test-\(UUID().uuidString.prefix(6))"
        let environment = ["IOTS_INSTANCE_ID": instanceID]
        let process = waitReady
            ? try await stack.startReady("tcp-gateway", environment: environment)
            : try stack.start("tcp-gateway", environment: environment)
        return GatewayUnderTest(
            redisServer: redisServer, stack: stack, process: process, redis: redis, keys: keys, instanceID: instanceID, tcpPort: tcpPort)
    }

    func stop() {
        self.process.kill()
        self.redisServer.stop()
    }

    func connect(
        uid: UID = GatewayHandshakeTests.deviceUID,
        key: AuthKey = GatewayHandshakeTests.deviceKey,
        tls: Bool = false,
        maxTransmissionLength: UInt16 = 0,
        version: UInt8 = Initiation.currentVersion
    ) async throws -> TestElement {
        try await TestElement.connect(
            host: "127.0.0.1", port: self.tcpPort, uid: uid, key: key, tls: tls, maxTransmissionLength: maxTransmissionLength,
            version: version)
    }

    func connectRaw() async throws -> TestElement.RawConnection {
        try await TestElement.connectRaw(host: "127.0.0.1", port: self.tcpPort)
    }

    /// Appends a command to this gateway's own stream, as the router does.
    func command(_ command: GatewayCommand) async throws {
        try await self.redis.xadd(self.keys.gatewayStream(self.instanceID), fields: command.fields)
    }

    /// Polls `condition` every 50 ms until it holds, at most 5 s.
    func eventually(_ what: String, timeout: Duration = .seconds(5), _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestSupportError.timeout("\(what); gateway output:\n\(self.process.output)")
    }

    /// The router stream's messages once it holds at least `count`.
    func routerMessages(count: Int) async throws -> [RouterMessage] {
        var messages: [RouterMessage] = []
        try await self.eventually("\(count) router messages") {
            messages = try await self.redis.xrange(self.keys.routerStream).map { try RouterMessage(entry: $0) }
            return messages.count >= count
        }
        return messages
    }

    func openEntry(for uid: UID) async throws -> RouterMessage.SessionOpened {
        var found: RouterMessage.SessionOpened?
        try await self.eventually("an open entry for \(uid)") {
            for message in try await self.redis.xrange(self.keys.routerStream).map({ try RouterMessage(entry: $0) }) {
                if case .sessionOpened(let opened) = message, opened.address.uid == uid { found = opened }
            }
            return found != nil
        }
        return found!
    }

    func closeEntry(for uid: UID) async throws -> RouterMessage.SessionClosed {
        var found: RouterMessage.SessionClosed?
        try await self.eventually("a close entry for \(uid)") {
            for message in try await self.redis.xrange(self.keys.routerStream).map({ try RouterMessage(entry: $0) }) {
                if case .sessionClosed(let closed) = message, closed.address.uid == uid { found = closed }
            }
            return found != nil
        }
        return found!
    }

    func event(kind: String) async throws -> StreamEntry {
        var found: StreamEntry?
        try await self.eventually("a \(kind) event") {
            found = try await self.redis.xrange(self.keys.eventsStream).first { $0.string("t") == kind }
            return found != nil
        }
        return found!
    }

    /// The value of one Prometheus sample (`name{labels}`), 0 when absent.
    func metric(_ sample: String) async throws -> Double {
        let body = try await AdminProbe.get(port: self.stack.adminPort("tcp-gateway"), path: "/metrics").body
        for line in body.split(separator: "\n") where line.hasPrefix(sample + " ") {
            return Double(line.split(separator: " ").last ?? "") ?? 0
        }
        return 0
    }

    /// The sum of every sample of a Prometheus counter, whatever its labels.
    func metricSum(_ name: String) async throws -> Double {
        let body = try await AdminProbe.get(port: self.stack.adminPort("tcp-gateway"), path: "/metrics").body
        return body.split(separator: "\n")
            .filter { $0.hasPrefix(name + "{") || $0.hasPrefix(name + " ") }
            .compactMap { Double($0.split(separator: " ").last ?? "") }
            .reduce(0, +)
    }

    func refusedLogins(reason: String) async throws -> Double {
        var value = 0.0
        try? await self.eventually("a refused login (\(reason)) counted", timeout: .seconds(2)) {
            value = try await self.metric("iots_gateway_logins_refused_total{reason=\"\(reason)\"}")
            return value > 0
        }
        return value
    }
}
