import Foundation
import IoTSocket
import Messaging
import NIOCore
import RedisBus
import Testing
import TestSupport

/// Issue 3's acceptance: IoTSocket sessions end to end across two gateways and a router.
@Suite("Routing between objects and the central", .serialized)
struct RoutingTests {
    static let sensorKey = RoutingHarness.sensorKey
    static let plcKey = RoutingHarness.plcKey
    static let sensor = RoutingHarness.sensor
    static let plc = RoutingHarness.plc
    static let acl = RoutingHarness.acl

    static func payloads() throws -> [PayloadBlock] {
        [
            try PayloadBlock(format: .binary, data: [0x00, 0xFF, 0x10]),
            try PayloadBlock(format: .ascii, data: Array("temp?".utf8)),
            try PayloadBlock(format: .utf8, data: Array("température ✓".utf8)),
            try PayloadBlock(format: .json, data: Array(#"{"get":["t","h"]}"#.utf8)),
        ]
    }

    @Test("requests both ways in all four formats, UID added toward the central and removed toward the object")
    func requestsBothWays() async throws {
        let harness = try await RoutingHarness.start()
        do {
            let central = try await harness.central(on: harness.portB, pushing: Self.acl)
            let device = try await harness.login(Self.plc, key: Self.plcKey, on: harness.portA)

            for (index, payload) in try Self.payloads().enumerated() {
                let tracking = UInt16(100 + index)
                // central → object: the object sees no UID
                try await central.send(.request(uid: Self.plc, tracking: tracking, payload: payload))
                #expect(try await device.receive(timeout: .seconds(5)) == .request(uid: nil, tracking: tracking, payload: payload))
                try await device.send(.response(uid: nil, tracking: tracking, code: .valid, payload: payload))
                #expect(
                    try await central.receive(timeout: .seconds(5))
                        == .response(uid: Self.plc, tracking: tracking, code: .valid, payload: payload))

                // object → central: the central sees the object's UID
                try await device.send(.request(uid: nil, tracking: tracking, payload: payload))
                #expect(try await central.receive(timeout: .seconds(5)) == .request(uid: Self.plc, tracking: tracking, payload: payload))
                try await central.send(.response(uid: Self.plc, tracking: tracking, code: .notValid, payload: payload))
                #expect(
                    try await device.receive(timeout: .seconds(5))
                        == .response(uid: nil, tracking: tracking, code: .notValid, payload: payload))
            }
            await device.close()
            await central.close()
        } catch {
            Issue.record("\(error)\n\(harness.output)")
        }
        await harness.stop()
    }

    @Test("duplicate tracking → 0xA2, offline device → 0xA0, silent device → 0xA1 in time, late response dropped")
    func errorCodes() async throws {
        let harness = try await RoutingHarness.start(requestTimeoutSeconds: 2)
        do {
            let central = try await harness.central(on: harness.portA, pushing: Self.acl)
            let empty = PayloadBlock.empty
            let payload = try PayloadBlock(format: .ascii, data: Array("x".utf8))

            // offline device (in the ACL, never connected)
            try await central.send(.request(uid: Self.sensor, tracking: 1, payload: payload))
            #expect(try await central.receive(timeout: .seconds(5)) == .response(uid: Self.sensor, tracking: 1, code: .destinationNotFound, payload: empty))
            // no object named (the central's own empty UID, or no UID): 0xA0 naming what the request named
            try await central.send(.request(uid: .central, tracking: 2, payload: payload))
            #expect(try await central.receive(timeout: .seconds(5)) == .response(uid: .central, tracking: 2, code: .destinationNotFound, payload: empty))
            try await central.send(.request(uid: nil, tracking: 3, payload: payload))
            #expect(try await central.receive(timeout: .seconds(5)) == .response(uid: nil, tracking: 3, code: .destinationNotFound, payload: empty))

            let device = try await harness.login(Self.plc, key: Self.plcKey, on: harness.portB)
            let sent = ContinuousClock.now
            try await central.send(.request(uid: Self.plc, tracking: 7, payload: payload))
            #expect(try await device.receive(timeout: .seconds(5)) == .request(uid: nil, tracking: 7, payload: payload))
            try await central.send(.request(uid: Self.plc, tracking: 7, payload: payload))
            #expect(try await central.receive(timeout: .seconds(5)) == .response(uid: Self.plc, tracking: 7, code: .trackingInProgress, payload: empty))

            // the device stays silent: 0xA1 within the timeout + 1 s
            #expect(try await central.receive(timeout: .seconds(4)) == .response(uid: Self.plc, tracking: 7, code: .timeout, payload: empty))
            let elapsed = ContinuousClock.now - sent
            #expect(elapsed >= .seconds(2) && elapsed <= .seconds(3), "timeout answered after \(elapsed)")

            // its late response is dropped: the central receives nothing more
            try await device.send(.response(uid: nil, tracking: 7, code: .valid, payload: payload))
            try await device.send(.ping)
            #expect(try await device.receive(timeout: .seconds(5)) == .pong)
            await #expect(throws: (any Error).self) { try await central.receive(timeout: .milliseconds(500)) }
            try await harness.waitForMetric(#"iots_router_responses_total{outcome="late"}"#, 1)

            // the same number is free again once answered
            try await central.send(.request(uid: Self.plc, tracking: 7, payload: payload))
            #expect(try await device.receive(timeout: .seconds(5)) == .request(uid: nil, tracking: 7, payload: payload))

            // an object's request with no central session: 0xA0
            await central.close(code: .maintenance)
            try await harness.waitForSession(.central, nil)
            try await device.send(.request(uid: nil, tracking: 9, payload: payload))
            #expect(try await device.receive(timeout: .seconds(5)) == .response(uid: nil, tracking: 9, code: .destinationNotFound, payload: empty))
            await device.close()
        } catch {
            Issue.record("\(error)\n\(harness.output)")
        }
        await harness.stop()
    }

    @Test("stated maximum lengths: a request longer than the device accepts → 0xA0, a response longer than the central accepts → 0x01, also when held and replayed")
    func statedMaximumLengths() async throws {
        let harness = try await RoutingHarness.start()
        do {
            let central = try await harness.central(on: harness.portA, pushing: Self.acl, maxTransmissionLength: 64)
            let device = try await TestElement.connect(
                host: "127.0.0.1", port: harness.portB, uid: Self.plc, key: Self.plcKey, maxTransmissionLength: 64)
            try await harness.waitForSession(Self.plc, "online")
            let short = try PayloadBlock(format: .binary, data: [1, 2, 3])
            let long = try PayloadBlock(format: .binary, data: [UInt8](repeating: 0x55, count: 200))

            // toward the device: never written, answered at once
            try await central.send(.request(uid: Self.plc, tracking: 1, payload: long))
            #expect(try await central.receive(timeout: .seconds(5)) == .response(uid: Self.plc, tracking: 1, code: .destinationNotFound, payload: .empty))

            // back to the central: the answer it can read instead of one it cannot
            try await central.send(.request(uid: Self.plc, tracking: 2, payload: short))
            #expect(try await device.receive(timeout: .seconds(5)) == .request(uid: nil, tracking: 2, payload: short))
            try await device.send(.response(uid: nil, tracking: 2, code: .valid, payload: long))
            #expect(try await central.receive(timeout: .seconds(5)) == .response(uid: Self.plc, tracking: 2, code: .notValid, payload: .empty))
            try await harness.waitForMetric(#"iots_router_responses_total{outcome="too_long"}"#, 1)

            // within the limits both ways, as usual
            try await central.send(.request(uid: Self.plc, tracking: 3, payload: short))
            #expect(try await device.receive(timeout: .seconds(5)) == .request(uid: nil, tracking: 3, payload: short))
            try await device.send(.response(uid: nil, tracking: 3, code: .valid, payload: short))
            #expect(try await central.receive(timeout: .seconds(5)) == .response(uid: Self.plc, tracking: 3, code: .valid, payload: short))

            // held while the device is away (it stated no maximum then), replayed to a connection
            // that states 64 bytes: the long request is answered 0xA0 instead of being lost
            await device.close()
            try await harness.waitForSession(Self.plc, "kept")
            try await central.send(.request(uid: Self.plc, tracking: 4, payload: long))
            try await central.send(.request(uid: Self.plc, tracking: 5, payload: short))
            try await harness.waitFor("two requests held") {
                (try? await harness.client.send(["LLEN", .string(harness.keys.held(Self.plc))]).int) == 2
            }
            let back = try await TestElement.connect(
                host: "127.0.0.1", port: harness.portA, uid: Self.plc, key: Self.plcKey, maxTransmissionLength: 64)
            #expect(try await back.receive(timeout: .seconds(5)) == .request(uid: nil, tracking: 5, payload: short))
            #expect(try await central.receive(timeout: .seconds(5)) == .response(uid: Self.plc, tracking: 4, code: .destinationNotFound, payload: .empty))

            try await back.send(.response(uid: nil, tracking: 5, code: .valid, payload: short))
            #expect(try await central.receive(timeout: .seconds(5)) == .response(uid: Self.plc, tracking: 5, code: .valid, payload: short))

            // a response held for the central while it is away, too long for the connection it
            // returns on: 0x01 instead
            try await central.send(.request(uid: Self.plc, tracking: 6, payload: short))
            #expect(try await back.receive(timeout: .seconds(5)) == .request(uid: nil, tracking: 6, payload: short))
            await central.close()  // abrupt: kept
            try await harness.waitForSession(.central, "kept")
            try await back.send(.response(uid: nil, tracking: 6, code: .valid, payload: long))
            try await harness.waitFor("the response held for the central") {
                (try? await harness.client.send(["LLEN", .string(harness.keys.held(.central))]).int) == 1
            }
            let returned = try await harness.central(on: harness.portB, maxTransmissionLength: 64)
            #expect(try await returned.receive(timeout: .seconds(5)) == .response(uid: Self.plc, tracking: 6, code: .notValid, payload: .empty))
            await back.close()
            await returned.close()
        } catch {
            Issue.record("\(error)\n\(harness.output)")
        }
        await harness.stop()
    }

    @Test("a request held for a dropped device is delivered when it returns within the keep delay, before anything new, 0xA0 after it; close codes keep or drop")
    func keptSessions() async throws {
        let harness = try await RoutingHarness.start(keepSessionSeconds: 2, requestTimeoutSeconds: 5)
        do {
            let central = try await harness.central(on: harness.portA, pushing: Self.acl)
            let payload = try PayloadBlock(format: .utf8, data: Array("wake".utf8))

            var device = try await TestElement.connect(host: "127.0.0.1", port: harness.portB, uid: Self.plc, key: Self.plcKey)
            try await harness.waitForSession(Self.plc, "online")
            await device.close()  // abrupt: no Close frame
            try await harness.waitForSession(Self.plc, "kept")
            try await central.send(.request(uid: Self.plc, tracking: 21, payload: payload))
            try await central.send(.request(uid: Self.plc, tracking: 22, payload: payload))
            try await Task.sleep(for: .milliseconds(300))

            device = try await TestElement.connect(host: "127.0.0.1", port: harness.portA, uid: Self.plc, key: Self.plcKey)
            // sent as the device returns: it comes after what was held, never before
            try await central.send(.request(uid: Self.plc, tracking: 24, payload: payload))
            #expect(try await device.receive(timeout: .seconds(5)) == .request(uid: nil, tracking: 21, payload: payload))
            #expect(try await device.receive(timeout: .seconds(5)) == .request(uid: nil, tracking: 22, payload: payload))
            #expect(try await device.receive(timeout: .seconds(5)) == .request(uid: nil, tracking: 24, payload: payload))
            try await device.send(.response(uid: nil, tracking: 21, code: .valid, payload: payload))
            #expect(try await central.receive(timeout: .seconds(5)) == .response(uid: Self.plc, tracking: 21, code: .valid, payload: payload))
            try await device.send(.response(uid: nil, tracking: 24, code: .valid, payload: payload))
            #expect(try await central.receive(timeout: .seconds(5)) == .response(uid: Self.plc, tracking: 24, code: .valid, payload: payload))

            // a sleeping device (Close 0xA0) is kept too; after the delay its held request gets 0xA0
            await device.close(code: .sleeping)
            try await harness.waitForSession(Self.plc, "kept")
            try await central.send(.request(uid: Self.plc, tracking: 23, payload: payload))
            let answer = try await central.receive(timeout: .seconds(6))
            // tracking 22 was never answered by the device: its timeout may come first
            if answer == .response(uid: Self.plc, tracking: 22, code: .timeout, payload: .empty) {
                #expect(try await central.receive(timeout: .seconds(6)) == .response(uid: Self.plc, tracking: 23, code: .destinationNotFound, payload: .empty))
            } else {
                #expect(answer == .response(uid: Self.plc, tracking: 23, code: .destinationNotFound, payload: .empty))
            }
            try await harness.waitForSession(Self.plc, nil)

            // the close code decides (PROTOCOL.md): 0xA1 keeps, 0x02 and 0x03 drop
            for (code, state) in [(CloseCode.freeingResources, "kept"), (.tooManyTransmissions, nil), (.internalError, nil)] {
                let element = try await harness.login(Self.plc, key: Self.plcKey, on: harness.portB)
                await element.close(code: code)
                try await harness.waitForSession(Self.plc, state)
            }
            await central.close()
        } catch {
            Issue.record("\(error)\n\(harness.output)")
        }
        await harness.stop()
    }

    @Test("lifecycle events: online, replaced, kept, expired, offline, in order on the events stream")
    func lifecycleEvents() async throws {
        let harness = try await RoutingHarness.start(keepSessionSeconds: 1)
        do {
            let central = try await harness.central(on: harness.portA, pushing: Self.acl)
            let first = try await harness.login(Self.plc, key: Self.plcKey, on: harness.portB)
            let second = try await TestElement.connect(host: "127.0.0.1", port: harness.portA, uid: Self.plc, key: Self.plcKey)
            #expect(await first.waitForClose(timeout: .seconds(5)))
            await second.close()  // abrupt: kept, then expired after KeepSessionSec
            try await harness.waitFor("kept session expired") { await harness.sessionState(Self.plc) == nil }
            let third = try await harness.login(Self.plc, key: Self.plcKey, on: harness.portB)
            await third.close(code: .maintenance)
            try await harness.waitForSession(Self.plc, nil)

            // Events follow the state change they report (the next step of the same batch).
            let plcEvents = { @Sendable in
                try await harness.client.xrange(harness.keys.eventsStream).filter { $0.string("uid") == Self.plc.string }
            }
            try? await harness.waitFor("the offline event") { (try? await plcEvents())?.last?.string("t") == "offline" }
            let events = try await plcEvents()
            let kinds = events.map { "\($0.string("t") ?? "?")@\($0.string("gw") ?? "?")" }
            #expect(kinds == ["online@gw-b", "online@gw-a", "replaced@gw-a", "kept@gw-a", "expired@gw-a", "online@gw-b", "offline@gw-b"], "\(kinds)")
            let times = events.compactMap { $0.string("at").flatMap(Int.init) }
            #expect(times.count == events.count && times == times.sorted())
            let centralOnline = try await harness.client.xrange(harness.keys.eventsStream).first { $0.string("central") == "1" }
            #expect(centralOnline?.string("t") == "online")
            await central.close()
        } catch {
            Issue.record("\(error)\n\(harness.output)")
        }
        await harness.stop()
    }

    @Test("the central is kept too: an object's request while it is away is delivered when it returns")
    func keptCentral() async throws {
        let harness = try await RoutingHarness.start(keepSessionSeconds: 5, requestTimeoutSeconds: 5)
        do {
            var central = try await harness.central(on: harness.portA, pushing: Self.acl)
            let device = try await harness.login(Self.plc, key: Self.plcKey, on: harness.portB)
            await central.close()  // abrupt
            try await harness.waitForSession(.central, "kept")
            let payload = try PayloadBlock(format: .ascii, data: Array("meter?".utf8))
            try await device.send(.request(uid: nil, tracking: 31, payload: payload))
            try await harness.waitFor("request held for the central") {
                (try? await harness.client.send(["LLEN", .string(harness.keys.held(.central))]).int) == 1
            }

            central = try await harness.central(on: harness.portB)
            #expect(try await central.receive(timeout: .seconds(5)) == .request(uid: Self.plc, tracking: 31, payload: payload))
            let answer = try PayloadBlock(format: .ascii, data: Array("42".utf8))
            try await central.send(.response(uid: Self.plc, tracking: 31, code: .valid, payload: answer))
            #expect(try await device.receive(timeout: .seconds(5)) == .response(uid: nil, tracking: 31, code: .valid, payload: answer))
            await device.close()
            await central.close()
        } catch {
            Issue.record("\(error)\n\(harness.output)")
        }
        await harness.stop()
    }

    @Test("a second login of the same UID closes the older connection with 0x01; the newer works")
    func secondLogin() async throws {
        let harness = try await RoutingHarness.start()
        do {
            let central = try await harness.central(on: harness.portA, pushing: Self.acl)
            let first = try await harness.login(Self.plc, key: Self.plcKey, on: harness.portA)
            let second = try await TestElement.connect(host: "127.0.0.1", port: harness.portB, uid: Self.plc, key: Self.plcKey)
            #expect(try await first.receive(timeout: .seconds(5)) == .close(.maintenance))
            #expect(await first.waitForClose(timeout: .seconds(5)))
            let payload = try PayloadBlock(format: .binary, data: [1, 2, 3])
            try await central.send(.request(uid: Self.plc, tracking: 5, payload: payload))
            #expect(try await second.receive(timeout: .seconds(5)) == .request(uid: nil, tracking: 5, payload: payload))
            // The older connection's close, reported by gateway A whenever it is, must not end
            // the session that moved to B.
            try await Task.sleep(for: .milliseconds(500))
            #expect(await harness.sessionState(Self.plc) == "online")
            #expect(try await harness.client.hgetString(harness.keys.session(Self.plc), field: "gw") == "gw-b")
            await second.close()
            await central.close()
        } catch {
            Issue.record("\(error)\n\(harness.output)")
        }
        await harness.stop()
    }

    @Test("telemetry groups receive a token at login, others none; a device removed from the ACL is closed")
    func tokensAndACLChanges() async throws {
        let harness = try await RoutingHarness.start()
        do {
            let central = try await harness.central(on: harness.portA, pushing: Self.acl)
            let sensor = try await TestElement.connect(host: "127.0.0.1", port: harness.portB, uid: Self.sensor, key: Self.sensorKey)
            guard case .telemetryToken(let token) = try await sensor.receive(timeout: .seconds(5)) else {
                Issue.record("no telemetry token for a Sensors device")
                return
            }
            let owner = try await harness.client.getString(harness.keys.telemetryToken(token.hex))
            #expect(owner == Self.sensor.hex)
            let ttl = try await harness.client.pttl(harness.keys.telemetryToken(token.hex))
            #expect(ttl > 59 * 60_000 && ttl <= 60 * 60_000)

            let plc = try await harness.login(Self.plc, key: Self.plcKey, on: harness.portB)
            try await plc.send(.ping)
            #expect(try await plc.receive(timeout: .seconds(5)) == .pong)  // nothing (no token) came before the pong

            // the central pushes an ACL without the sensor: its session is closed and its token revoked
            try await central.send(.acl([Self.acl[1]]))
            #expect(try await sensor.receive(timeout: .seconds(5)) == .close(.maintenance))
            #expect(await sensor.waitForClose(timeout: .seconds(5)))
            try await harness.waitFor("token revoked") {
                (try? await harness.client.exists(harness.keys.telemetryToken(token.hex))) == false
            }
            await #expect(throws: (any Error).self) {
                try await TestElement.connect(host: "127.0.0.1", port: harness.portA, uid: Self.sensor, key: Self.sensorKey)
            }
            await plc.close()
            await central.close()
        } catch {
            Issue.record("\(error)\n\(harness.output)")
        }
        await harness.stop()
    }

    @Test("the gateway's ACL cache: a re-login skips Redis; a new key is read from Redis; an entry removed behind its back gets the session closed by the router; a change through the router empties it")
    func aclCache() async throws {
        let harness = try await RoutingHarness.start()
        let newKey = try AuthKey(hex: "0f0e0d0c0b0a09080706050403020100")
        let group = try GroupName("PLC")
        let fromCache = "iots_gateway_acl_lookups_total{source=\"cache\"}"
        let fromRedis = "iots_gateway_acl_lookups_total{source=\"redis\"}"
        do {
            let central = try await harness.central(on: harness.portB, pushing: Self.acl)
            let login = { (key: AuthKey) in try await TestElement.connect(host: "127.0.0.1", port: harness.portA, uid: Self.plc, key: key) }
            let logout = { (element: TestElement) in
                await element.close(code: .maintenance)
                try await harness.waitForSession(Self.plc, nil)
            }

            try await logout(try await login(Self.plcKey))
            try await harness.waitForMetric(fromRedis, 1, of: "tcp-gateway")
            try await logout(try await login(Self.plcKey))
            try await harness.waitForMetric(fromCache, 1, of: "tcp-gateway")

            // The key changes in Redis behind the gateway's back: the cached (old) key does not
            // match the new answer, so Redis is read again, and the old key is refused.
            try await harness.client.hset(
                harness.keys.acl, fields: [(Self.plc.hex, .bytes(ACLRecord.encode(ACLEntry(group: group, uid: Self.plc, key: newKey))))])
            let rekeyed = try await login(newKey)
            try await harness.waitForSession(Self.plc, "online")
            try await harness.waitForMetric(fromRedis, 2, of: "tcp-gateway")
            try await logout(rekeyed)
            await #expect(throws: (any Error).self) { try await login(Self.plcKey) }

            // Only the group changes: the cached key still is the ACL's, the session opens.
            try await harness.client.hset(
                harness.keys.acl,
                fields: [(Self.plc.hex, .bytes(ACLRecord.encode(ACLEntry(group: try GroupName("Sensors"), uid: Self.plc, key: newKey))))])
            try await logout(try await login(newKey))
            try await harness.waitForMetric(fromCache, 2, of: "tcp-gateway")

            // Removed behind the gateway's back (the race the router checks for): the cached
            // record lets the login through, the router finds the ACL without it and has the
            // connection closed; the next login reads Redis and is refused.
            try await harness.client.send(["HDEL", .string(harness.keys.acl), .string(Self.plc.hex)])
            let stale = try await login(newKey)
            #expect(try await stale.receive(timeout: .seconds(5)) == .close(.maintenance))
            #expect(await stale.waitForClose(timeout: .seconds(5)))
            try await harness.waitForMetric("iots_router_sessions_total{event=\"refused_stale_acl\"}", 1)
            #expect(await harness.sessionState(Self.plc) == nil)
            await #expect(throws: (any Error).self) { try await login(newKey) }

            // Changes through the router bump the ACL version, and the gateway drops what it
            // cached within a second: a device removed that way is refused at validation.
            let flushes = "iots_gateway_acl_cache_flushes_total"
            let push = { (entries: [ACLEntry]) in
                let before = await harness.metric(flushes, of: "tcp-gateway") ?? 0
                try await central.send(.acl(entries))
                try await harness.waitFor("the gateway dropped its cache") { await harness.metric(flushes, of: "tcp-gateway") ?? 0 > before }
            }
            try await push(Self.acl)
            try await logout(try await login(Self.plcKey))
            try await push([Self.acl[0]])
            await #expect(throws: (any Error).self) { try await login(Self.plcKey) }
            #expect(await harness.metric("iots_router_sessions_total{event=\"refused_stale_acl\"}") == 1)
            await central.close()
        } catch {
            Issue.record("\(error)\n\(harness.output)")
        }
        await harness.stop()
    }

    @Test("Redis restarts under the running stack (data kept): sessions stay and requests route both ways again")
    func redisRestart() async throws {
        let harness = try await RoutingHarness.start()
        do {
            let central = try await harness.central(on: harness.portB, pushing: Self.acl)
            let device = try await harness.login(Self.plc, key: Self.plcKey, on: harness.portA)
            let payload = try PayloadBlock(format: .ascii, data: Array("again".utf8))

            // Every service loses its Redis connections here: the gateways' publishers retry,
            // their command readers and the router's consumer reconnect and read on.
            try await harness.redis.restart(empty: false)
            try await central.send(.request(uid: Self.plc, tracking: 7, payload: payload))
            #expect(try await device.receive(timeout: .seconds(15)) == .request(uid: nil, tracking: 7, payload: payload))
            try await device.send(.response(uid: nil, tracking: 7, code: .valid, payload: payload))
            #expect(try await central.receive(timeout: .seconds(10)) == .response(uid: Self.plc, tracking: 7, code: .valid, payload: payload))

            try await device.send(.request(uid: nil, tracking: 8, payload: payload))
            #expect(try await central.receive(timeout: .seconds(10)) == .request(uid: Self.plc, tracking: 8, payload: payload))
            try await central.send(.response(uid: Self.plc, tracking: 8, code: .valid, payload: payload))
            #expect(try await device.receive(timeout: .seconds(10)) == .response(uid: nil, tracking: 8, code: .valid, payload: payload))
            await device.close()
            await central.close()
        } catch {
            Issue.record("\(error)\n\(harness.output)")
        }
        await harness.stop()
    }

    @Test("Redis unreachable past the gateways' retries: requests they could not hand over are answered 0xA0 by the gateway")
    func requestsAnsweredWhenRedisIsGone() async throws {
        let harness = try await RoutingHarness.start()
        do {
            let central = try await harness.central(on: harness.portB, pushing: Self.acl)
            let device = try await harness.login(Self.plc, key: Self.plcKey, on: harness.portA)
            let payload = try PayloadBlock(format: .ascii, data: Array("lost?".utf8))
            harness.redis.stop()
            // The publisher retries 8 times (each waits up to 5 s for a connection, ≈ 45 s in all)
            // before it gives the requests up.
            try await device.send(.request(uid: nil, tracking: 31, payload: payload))
            try await central.send(.request(uid: Self.plc, tracking: 32, payload: payload))
            #expect(try await device.receive(timeout: .seconds(75)) == .response(uid: nil, tracking: 31, code: .destinationNotFound, payload: .empty))
            #expect(
                try await central.receive(timeout: .seconds(20)) == .response(uid: Self.plc, tracking: 32, code: .destinationNotFound, payload: .empty))
            #expect(await harness.metric("iots_gateway_requests_undelivered_total", of: "tcp-gateway") == 1)
            await device.close()
            await central.close()
        } catch {
            Issue.record("\(error)\n\(harness.output)")
        }
        await harness.stop()
    }

    @Test("a frame the router sent to a connection that had just closed comes back to it and is held for the kept session")
    func frameForClosedConnectionIsHeld() async throws {
        let harness = try await RoutingHarness.start(keepSessionSeconds: 30)
        do {
            let central = try await harness.central(on: harness.portB, pushing: Self.acl)
            let device = try await harness.login(Self.plc, key: Self.plcKey, on: harness.portA)
            let connection = try #require(try await harness.client.hgetString(harness.keys.session(Self.plc), field: "conn"))
            // The router is paused before it learns of the close, so the frame below, as if it
            // had routed it just before, reaches the gateway after the connection is gone.
            Foundation.kill(harness.router.pid, SIGSTOP)
            await device.close()  // abrupt: the session is kept
            try await Task.sleep(for: .milliseconds(300))
            let payload = try PayloadBlock(format: .ascii, data: Array("held for you".utf8))
            var frame = ByteBuffer()
            Transmission.response(uid: nil, tracking: 5, code: .valid, payload: payload).write(to: &frame)
            let command = GatewayCommand.write(connection: connection, frame: Array(frame.readableBytesView))
            _ = try await harness.client.send(["XADD", .string(harness.keys.gatewayStream("gw-a")), "*"] + command.fields.flatMap { [.string($0.name), $0.value] })
            try await harness.waitForMetric("iots_gateway_frames_returned_total", 1, of: "tcp-gateway")
            Foundation.kill(harness.router.pid, SIGCONT)

            try await harness.waitForSession(Self.plc, "kept")
            try await harness.waitForMetric(#"iots_router_returned_frames_total{outcome="held"}"#, 1)
            let back = try await TestElement.connect(host: "127.0.0.1", port: harness.portB, uid: Self.plc, key: Self.plcKey)
            #expect(try await back.receive(timeout: .seconds(5)) == .response(uid: nil, tracking: 5, code: .valid, payload: payload))
            await back.close()
            await central.close()
        } catch {
            Issue.record("\(error)\n\(harness.output)")
        }
        Foundation.kill(harness.router.pid, SIGCONT)
        await harness.stop()
    }

    @Test("a request the router routes to a gateway that has just drained goes back to the router and reaches the device elsewhere")
    func requestRoutedDuringDrainIsHeld() async throws {
        let harness = try await RoutingHarness.start(keepSessionSeconds: 30)
        do {
            let central = try await harness.central(on: harness.portB, pushing: Self.acl)
            let device = try await harness.login(Self.plc, key: Self.plcKey, on: harness.portA)
            // The router is paused with the request unread, so it routes it to gateway A only
            // after A has drained the device's session: a rolling restart racing a request.
            Foundation.kill(harness.router.pid, SIGSTOP)
            let payload = try PayloadBlock(format: .ascii, data: Array("during the restart".utf8))
            try await central.send(.request(uid: Self.plc, tracking: 31, payload: payload))
            try await Task.sleep(for: .milliseconds(200))  // in the router's stream before A's close
            let stopped = Task { await harness.gatewayA.stop(timeout: .seconds(20)) }
            #expect(try await device.receive(timeout: .seconds(5)) == .close(.freeingResources))
            // Past the read gateway A had in progress when it drained: had A stopped reading
            // there, the request the router sends it on resuming would never be read.
            try await Task.sleep(for: .milliseconds(700))
            Foundation.kill(harness.router.pid, SIGCONT)

            try await harness.waitForMetric(#"iots_router_returned_frames_total{outcome="held"}"#, 1)
            #expect(await stopped.value == 0, "gateway A exit status")
            let back = try await TestElement.connect(host: "127.0.0.1", port: harness.portB, uid: Self.plc, key: Self.plcKey)
            #expect(try await back.receive(timeout: .seconds(5)) == .request(uid: nil, tracking: 31, payload: payload))
            try await back.send(.response(uid: nil, tracking: 31, code: .valid, payload: payload))
            #expect(try await central.receive(timeout: .seconds(5)) == .response(uid: Self.plc, tracking: 31, code: .valid, payload: payload))
            await back.close()
            await central.close()
        } catch {
            Issue.record("\(error)\n\(harness.output)")
        }
        Foundation.kill(harness.router.pid, SIGCONT)
        await harness.stop()
    }

    @Test("SIGTERM while Redis is unreachable: the gateway and the router still exit, in bounded time")
    func stopWithoutRedis() async throws {
        let harness = try await RoutingHarness.start()
        do {
            _ = try await harness.central(on: harness.portB, pushing: Self.acl)
            let device = try await harness.login(Self.plc, key: Self.plcKey, on: harness.portA)
            harness.redis.stop()
            let start = ContinuousClock.now
            // The session-closed events cannot be appended: the publisher gives up after 10 s
            // instead of retrying for minutes; every other Redis step waits 5 s at most.
            async let gateway = harness.gatewayA.stop(timeout: .seconds(60))
            async let router = harness.router.stop(timeout: .seconds(60))
            let (gatewayStatus, routerStatus) = await (gateway, router)
            let elapsed = ContinuousClock.now - start
            #expect(gatewayStatus == 0)
            #expect(routerStatus == 0)
            #expect(elapsed < .seconds(45), "stopped after \(elapsed)")
            #expect(harness.gatewayA.output.contains("Redis unreachable at shutdown"))
            await device.close()
        } catch {
            Issue.record("\(error)\n\(harness.output)")
        }
        await harness.stop()
    }

    @Test("kill -9 of a gateway: its devices reconnect to the other and requests reach them")
    func gatewayCrash() async throws {
        let harness = try await RoutingHarness.start(keepSessionSeconds: 30)
        do {
            let central = try await harness.central(on: harness.portA, pushing: Self.acl)
            let onB = try await harness.login(Self.plc, key: Self.plcKey, on: harness.portB)
            harness.gatewayB.kill()
            #expect(await onB.waitForClose(timeout: .seconds(5)))

            let payload = try PayloadBlock(format: .ascii, data: Array("after".utf8))
            let device = try await TestElement.connect(host: "127.0.0.1", port: harness.portA, uid: Self.plc, key: Self.plcKey)
            try await harness.waitFor("session moved to gateway A") {
                (try? await harness.client.hgetString(harness.keys.session(Self.plc), field: "gw")) == "gw-a"
            }
            try await central.send(.request(uid: Self.plc, tracking: 3, payload: payload))
            #expect(try await device.receive(timeout: .seconds(5)) == .request(uid: nil, tracking: 3, payload: payload))
            await device.close()
            await central.close()
        } catch {
            Issue.record("\(error)\n\(harness.output)")
        }
        await harness.stop()
    }

    @Test("a gateway that stops heartbeating: its sessions are kept (held requests reach the device on its return), or dropped with their tokens when nothing is kept")
    func deadGatewaySweep() async throws {
        for keepSeconds in [30, 0] {
            let harness = try await RoutingHarness.start(keepSessionSeconds: keepSeconds, requestTimeoutSeconds: 10)
            do {
                let central = try await harness.central(on: harness.portA, pushing: Self.acl)
                let onB = try await harness.login(Self.sensor, key: Self.sensorKey, on: harness.portB)
                try await harness.waitFor("telemetry token issued") {
                    (try? await harness.client.send(["EXISTS", .string(harness.keys.deviceToken(Self.sensor))]).int) == 1
                }
                harness.gatewayB.kill()
                #expect(await onB.waitForClose(timeout: .seconds(5)))
                // Its last heartbeat made old, rather than waiting the 10 s it takes to notice.
                _ = try await harness.client.send(["ZADD", .string(harness.keys.gateways), "0", "gw-b"])
                let lost = { @Sendable in
                    try await harness.client.xrange(harness.keys.eventsStream).first { $0.string("detail") == "gateway lost" }
                }
                try await harness.waitFor("the routers declared gw-b dead") { (try? await lost()) != nil }
                let payload = try PayloadBlock(format: .ascii, data: Array("still there?".utf8))
                if keepSeconds > 0 {
                    #expect(await harness.sessionState(Self.sensor) == "kept")
                    #expect(try await lost()?.string("t") == "kept")
                    try await central.send(.request(uid: Self.sensor, tracking: 41, payload: payload))
                    let device = try await TestElement.connect(host: "127.0.0.1", port: harness.portA, uid: Self.sensor, key: Self.sensorKey)
                    #expect(try await device.receive(timeout: .seconds(5)) == .request(uid: nil, tracking: 41, payload: payload))
                    await device.close()
                } else {
                    #expect(await harness.sessionState(Self.sensor) == nil)
                    #expect(try await lost()?.string("t") == "offline")
                    #expect(try await harness.client.send(["EXISTS", .string(harness.keys.deviceToken(Self.sensor))]).int == 0)
                    try await central.send(.request(uid: Self.sensor, tracking: 42, payload: payload))
                    #expect(try await central.receive(timeout: .seconds(5)) == .response(uid: Self.sensor, tracking: 42, code: .destinationNotFound, payload: .empty))
                }
                await central.close()
            } catch {
                Issue.record("keep \(keepSeconds) s: \(error)\n\(harness.output)")
            }
            await harness.stop()
        }
    }

    @Test("two routers: one leads and each element's order holds; kill -9 of the leader, the other takes over")
    func routerLeadership() async throws {
        let harness = try await RoutingHarness.start(keepSessionSeconds: 30, requestTimeoutSeconds: 10)
        let second = try await harness.stack.startReady(
            "router", environment: ["IOTS_INSTANCE_ID": "router-2", "IOTS_ADMIN_PORT": "\(try FreePort.tcp())"])
        do {
            try await harness.waitFor("router-1 leads") {
                (try? await harness.client.send(["GET", .string(harness.keys.routerLeader)]).string) == "router-1"
            }
            let central = try await harness.central(on: harness.portB, pushing: Self.acl)
            let device = try await harness.login(Self.plc, key: Self.plcKey, on: harness.portA)

            // A burst from the device: the central gets every request, in the order sent.
            var burst = ByteBuffer()
            for tracking in 1...300 {
                let payload = try PayloadBlock(format: .ascii, data: Array("n\(tracking)".utf8))
                Transmission.request(uid: nil, tracking: UInt16(tracking), payload: payload).write(to: &burst)
            }
            try await device.sendRaw(Array(burst.readableBytesView))
            var received: [UInt16] = []
            for _ in 1...300 {
                guard case .request(let uid, let tracking, _) = try await central.receive(timeout: .seconds(5)) else { continue }
                #expect(uid == Self.plc)
                received.append(tracking)
            }
            #expect(received == Array(1...300))
            let empty = try PayloadBlock(format: .ascii, data: [])
            for tracking in received {
                try await central.send(.response(uid: Self.plc, tracking: tracking, code: .valid, payload: empty))
            }

            // The leader dies: the other router takes the lease once it runs out, and routes.
            harness.router.kill()
            try await harness.waitFor("router-2 leads", timeout: .seconds(8)) {
                (try? await harness.client.send(["GET", .string(harness.keys.routerLeader)]).string) == "router-2"
            }
            let payload = try PayloadBlock(format: .ascii, data: Array("after".utf8))
            try await central.send(.request(uid: Self.plc, tracking: 900, payload: payload))
            var seen: Transmission?
            while true {
                seen = try await device.receive(timeout: .seconds(5))
                if case .request = seen { break }
            }
            #expect(seen == .request(uid: nil, tracking: 900, payload: payload))
            await device.close()
            await central.close()
        } catch {
            Issue.record("\(error)\n\(harness.output)\n=== router-2\n\(second.output)")
        }
        _ = await second.stop(timeout: .seconds(5))
        await harness.stop()
    }

    @Test("entries no service of ours wrote (another version, a hand-typed XADD) are counted, acknowledged and skipped: routing goes on")
    func foreignStreamEntries() async throws {
        let harness = try await RoutingHarness.start()
        do {
            let central = try await harness.central(on: harness.portA, pushing: Self.acl)
            let device = try await harness.login(Self.plc, key: Self.plcKey, on: harness.portB)

            typealias Fields = [(name: String, value: RedisArgument)]
            let address: Fields = [
                ("uid", .string(Self.plc.hex)), ("gw", .string("gw-b")), ("conn", .string("no-such-connection")),
            ]
            func kind(_ kind: String, _ more: Fields = []) -> Fields { [("t", .string(kind))] + more }
            let foreign: [Fields] = [
                [("hello", .string("world"))],  // no kind
                kind("teleport", address),  // unknown kind
                kind("frame", [("uid", .string("not hex")), ("gw", .string("gw-a")), ("conn", .string("x"))]),
                kind("frame", address),  // no frame
                kind("frame", [("f", .bytes([0x70]))] + address),  // a frame that does not decode
                kind("close", [("code", .string("300"))] + address),
                kind("call"),
                kind("acl"),
                kind("answer"),
            ]
            for fields in foreign {
                try await harness.client.xadd(harness.keys.routerStream, fields: fields)
            }
            let commands: [Fields] = [
                [("hello", .string("world"))],
                [("c", .string("no-such-connection"))],  // neither a frame nor a close code
                [("c", .string("no-such-connection")), ("x", .string("-1"))],
            ]
            for fields in commands {
                try await harness.client.xadd(harness.keys.gatewayStream("gw-a"), fields: fields)
            }

            try await harness.waitForMetric("iots_router_malformed_total", Double(foreign.count))
            try await harness.waitForMetric(#"iots_gateway_frames_dropped_total{reason="malformed_command"}"#, Double(commands.count), of: "tcp-gateway")
            // Acknowledged: nothing stays pending to be read again after a restart.
            try await harness.waitFor("the router stream acknowledged") {
                guard let groups = try? await harness.client.xinfoGroups(harness.keys.routerStream) else { return false }
                return !groups.isEmpty && groups.allSatisfy { $0.pending == 0 }
            }
            // The session the foreign "close" named is untouched, and requests still flow both ways.
            #expect(await harness.sessionState(Self.plc) == "online")
            let payload = try PayloadBlock(format: .ascii, data: Array("still here".utf8))
            try await central.send(.request(uid: Self.plc, tracking: 41, payload: payload))
            #expect(try await device.receive(timeout: .seconds(5)) == .request(uid: nil, tracking: 41, payload: payload))
            try await device.send(.response(uid: nil, tracking: 41, code: .valid, payload: payload))
            #expect(try await central.receive(timeout: .seconds(5)) == .response(uid: Self.plc, tracking: 41, code: .valid, payload: payload))
            #expect(harness.router.isRunning && harness.gatewayA.isRunning)
            await device.close()
            await central.close()
        } catch {
            Issue.record("\(error)\n\(harness.output)")
        }
        await harness.stop()
    }
}
