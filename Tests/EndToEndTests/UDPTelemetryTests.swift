import Foundation
import IoTSocket
import Messaging
import NIOCore
import NIOPosix
import RedisBus
import Testing
import TestSupport

/// udp-telemetry as devices meet it: real datagrams from real sockets to the real executable,
/// tokens seeded in a real redis-server the way the router stores them, results read from the
/// telemetry stream and from `/metrics`.
@Suite("UDP telemetry: datagrams to the telemetry stream", .serialized)
struct UDPTelemetryTests {
    @Test("a valid datagram in each of the four formats lands with its uid, payload block and receive time")
    func everyFormatLands() async throws {
        let harness = try await UDPTelemetryHarness.start()
        defer { harness.kill() }
        let device = try UID("sensor-1")
        let token = try await harness.seedToken(for: device, lifetimeMilliseconds: 60_000)
        let sender = try await UDPSender.open(to: harness.stack.udpPort)
        defer { sender.close() }

        let payloads = [
            try PayloadBlock(format: .binary, data: [0x00, 0xFF, 0x10, 0x80]),
            try PayloadBlock(format: .ascii, data: Array("temp=21.5".utf8)),
            try PayloadBlock(format: .utf8, data: Array("température 21,5 °C".utf8)),
            try PayloadBlock(format: .json, data: Array(#"{"t":21.5,"ok":true}"#.utf8)),
        ]
        let before = Self.wallMilliseconds()
        for payload in payloads {
            try await sender.send(UDPTelemetryHarness.datagram(token: token, payload: payload))
        }
        let records = try await harness.records(count: payloads.count)
        let after = Self.wallMilliseconds()

        #expect(records.map(\.payload) == payloads)
        for record in records {
            #expect(record.uid == device)
            #expect(record.receivedAtMilliseconds >= before && record.receivedAtMilliseconds <= after)
        }
        let metrics = try await harness.metrics { $0.value("iots_udp_telemetry_appended_total") == 4 }
        #expect(metrics.value("iots_udp_datagrams_received_total") == 4)
        #expect(metrics.value("iots_udp_datagrams_accepted_total") == 4)
        #expect(await harness.service.stop() == 0, "\(harness.service.output)")
        await harness.stop()
    }

    @Test("unknown token, too short, wrong length, unknown format and oversize are dropped and counted")
    func badDatagramsAreDroppedAndCounted() async throws {
        let harness = try await UDPTelemetryHarness.start(datagramMaxSize: 64)
        defer { harness.kill() }
        let device = try UID("sensor-2")
        let token = try await harness.seedToken(for: device, lifetimeMilliseconds: 60_000)
        let sender = try await UDPSender.open(to: harness.stack.udpPort)
        defer { sender.close() }

        let block = try PayloadBlock(format: .ascii, data: Array("ok".utf8))
        let valid = UDPTelemetryHarness.datagram(token: token, payload: block)
        let bad: [(UDPDropReason, [UInt8])] = [
            (.unknownToken, UDPTelemetryHarness.datagram(token: TelemetryToken(rawValue: 0x0BAD_0BAD_0BAD_0BAD), payload: block)),
            (.malformed, Array(valid.prefix(5))),  // shorter than a token
            (.malformed, Array(valid.prefix(10))),  // token, but not a whole block header
            (.malformed, Array(valid.dropLast())),  // block announces more than the datagram holds
            (.malformed, valid + [0x00]),  // a byte after the block
            (.malformed, token.bytes + [0x30, 0x00, 0x00]),  // format 0x3 does not exist
            (.oversize, UDPTelemetryHarness.datagram(token: token, payload: try PayloadBlock(format: .binary, data: Array(repeating: 7, count: 60)))),
        ]
        for (_, bytes) in bad {
            try await sender.send(bytes)
        }
        // Sent last on the same socket: once it is in the stream, everything before was handled.
        try await sender.send(valid)
        let records = try await harness.records(count: 1)
        #expect(records.map(\.payload) == [block])

        let metrics = try await harness.metrics {
            $0.dropped(.unknownToken) == 1 && $0.value("iots_udp_datagrams_received_total") == Double(bad.count + 1)
        }
        for kind in UDPDropReason.allCases {
            #expect(metrics.dropped(kind) == Double(bad.filter { $0.0 == kind }.count), "reason \(kind.rawValue)")
        }
        #expect(metrics.value("iots_udp_datagrams_accepted_total") == 1)
        try await Task.sleep(for: .milliseconds(200))
        #expect(try await harness.client.xlen(harness.keys.telemetryStream) == 1)
        await harness.stop()
    }

    @Test("a token whose owner's ACL group has telemetry off is refused and counted; one in a telemetry group works")
    func telemetryOffGroupRefused() async throws {
        let harness = try await UDPTelemetryHarness.start(groups: ["Sensors": true, "Quiet": false])
        defer { harness.kill() }
        let on = try UID("sensor-on")
        let off = try UID("sensor-off")
        try await harness.addToACL(on, group: "Sensors")
        try await harness.addToACL(off, group: "Quiet")
        // As if issued before `Quiet` had its telemetry turned off.
        let tokenOn = try await harness.seedToken(for: on, lifetimeMilliseconds: 60_000)
        let tokenOff = try await harness.seedToken(for: off, lifetimeMilliseconds: 60_000)
        let sender = try await UDPSender.open(to: harness.stack.udpPort)
        defer { sender.close() }
        let block = try PayloadBlock(format: .ascii, data: Array("21.5".utf8))
        try await sender.send(UDPTelemetryHarness.datagram(token: tokenOff, payload: block))
        try await sender.send(UDPTelemetryHarness.datagram(token: tokenOn, payload: block))
        let records = try await harness.records(count: 1)
        #expect(records.map(\.uid) == [on])
        let metrics = try await harness.metrics { $0.dropped(.telemetryOff) == 1 }
        #expect(metrics.dropped(.telemetryOff) == 1)
        #expect(metrics.value("iots_udp_datagrams_accepted_total") == 1)
        await harness.stop()
    }

    @Test("a token deleted in Redis stops working within about a second")
    func revokedTokenStops() async throws {
        let harness = try await UDPTelemetryHarness.start()
        defer { harness.kill() }
        let token = try await harness.seedToken(for: try UID("sensor-3"), lifetimeMilliseconds: nil)
        let sender = try await UDPSender.open(to: harness.stack.udpPort)
        defer { sender.close() }

        let deleteAfter = Self.wallMilliseconds() + 1_000
        var deletedAt: Int?
        try await sender.sendClockedStream(token: token, for: .milliseconds(3_500)) { now in
            if deletedAt == nil, now >= deleteAfter {
                try await harness.client.del(harness.keys.telemetryToken(token.hex))
                deletedAt = Self.wallMilliseconds()
            }
        }
        try await Task.sleep(for: .milliseconds(300))
        let sentTimes = try await harness.allRecords().map { UDPSender.sendTime(of: $0.payload) }
        let revokedAt = try #require(deletedAt)

        #expect(sentTimes.filter { $0 < revokedAt }.count >= 10, "the token worked before it was deleted")
        let lastAccepted = sentTimes.max() ?? 0
        #expect(lastAccepted < revokedAt + 1_300, "accepted \(lastAccepted - revokedAt) ms after the deletion")
        let metrics = try await harness.metrics { $0.dropped(.revoked) > 0 }
        #expect(metrics.dropped(.revoked) > 10)
        await harness.stop()
    }

    @Test("a token whose key expires (PX) works until then and stops after it")
    func expiringTokenStops() async throws {
        let harness = try await UDPTelemetryHarness.start()
        defer { harness.kill() }
        let seededAt = Self.wallMilliseconds()
        let token = try await harness.seedToken(for: try UID("sensor-4"), lifetimeMilliseconds: 2_000)
        let sender = try await UDPSender.open(to: harness.stack.udpPort)
        defer { sender.close() }

        try await sender.sendClockedStream(token: token, for: .milliseconds(3_500)) { _ in }
        try await Task.sleep(for: .milliseconds(300))
        let sentTimes = try await harness.allRecords().map { UDPSender.sendTime(of: $0.payload) }

        #expect(sentTimes.contains { $0 > seededAt + 1_500 }, "the key's lifetime was respected, not cut to the cache's")
        let lastAccepted = sentTimes.max() ?? 0
        #expect(lastAccepted <= seededAt + 2_000 + 250, "accepted \(lastAccepted - seededAt) ms after seeding a 2000 ms token")
        let metrics = try await harness.metrics { $0.dropped(.expired) > 0 }
        #expect(metrics.dropped(.expired) > 10)
        await harness.stop()
    }

    @Test("order per device is preserved, including datagrams that waited for the first lookup")
    func orderPerDeviceIsPreserved() async throws {
        let harness = try await UDPTelemetryHarness.start()
        defer { harness.kill() }
        let devices = [try UID("meter-a"), try UID("meter-b")]
        var tokens: [TelemetryToken] = []
        var senders: [UDPSender] = []
        for device in devices {
            tokens.append(try await harness.seedToken(for: device, lifetimeMilliseconds: 60_000))
            senders.append(try await UDPSender.open(to: harness.stack.udpPort))
        }
        defer { senders.forEach { $0.close() } }

        let perDevice = 1_500
        let burst = 100
        for start in stride(from: 0, to: perDevice, by: burst) {
            // Bursts of a hundred per device, as a busy device sends: the first ones arrive
            // while the token's first lookup is still in flight.
            for (sender, token) in zip(senders, tokens) {
                for sequence in start..<(start + burst) {
                    let payload = try PayloadBlock(format: .binary, data: UDPSender.bigEndian(UInt64(sequence)))
                    let datagram = UDPTelemetryHarness.datagram(token: token, payload: payload)
                    if sequence == start + burst - 1 {
                        try await sender.send(datagram)
                    } else {
                        sender.sendWithoutWaiting(datagram)
                    }
                }
            }
            // The next burst once the service has read this one: on a box busy with other tests
            // the kernel's socket buffer, not the service, would otherwise drop datagrams.
            let sent = Double((start + burst) * devices.count)
            let scrape = try await harness.metrics { ($0.value("iots_udp_datagrams_received_total") ?? 0) >= sent }
            #expect((scrape.value("iots_udp_datagrams_received_total") ?? 0) >= sent, "the service read \(sent) datagrams")
        }
        let records = try await harness.records(count: devices.count * perDevice)
        for device in devices {
            let sequences = records.filter { $0.uid == device }.map { UDPSender.sendTime(of: $0.payload) }
            #expect(sequences == Array(0..<perDevice), "\(device): \(sequences.count) entries, out of order or missing")
        }
        await harness.stop()
    }

    @Test("an unknown token sent repeatedly costs Redis one lookup, not one per datagram")
    func unknownTokensAreRemembered() async throws {
        let harness = try await UDPTelemetryHarness.start()
        defer { harness.kill() }
        let sender = try await UDPSender.open(to: harness.stack.udpPort)
        defer { sender.close() }
        let forged = UDPTelemetryHarness.datagram(
            token: TelemetryToken(rawValue: 0xDEAD_BEEF_0000_0001), payload: try PayloadBlock(format: .ascii, data: Array("x".utf8)))

        // The first one is looked up; the absence is then remembered for a second.
        try await sender.send(forged)
        _ = try await harness.metrics { $0.dropped(.unknownToken) == 1 }
        for index in 1..<500 {
            if index % 50 == 49 {
                try await sender.send(forged)
            } else {
                sender.sendWithoutWaiting(forged)
            }
        }
        try await sender.send(forged)
        let metrics = try await harness.metrics { $0.dropped(.unknownToken) == 501 }
        #expect(metrics.dropped(.unknownToken) == 501)
        #expect(metrics.value("iots_udp_token_lookups_total") ?? 99 <= 2)
        #expect(metrics.value("iots_udp_token_cache_hits_total") ?? 0 >= 400)
        await harness.stop()
    }

    @Test("after Redis restarts empty, newly seeded tokens work again")
    func recoversAfterRedisRestart() async throws {
        let harness = try await UDPTelemetryHarness.start()
        defer { harness.kill() }
        let device = try UID("sensor-5")
        let sender = try await UDPSender.open(to: harness.stack.udpPort)
        defer { sender.close() }
        let first = try await harness.seedToken(for: device, lifetimeMilliseconds: 60_000)
        let block = try PayloadBlock(format: .ascii, data: Array("before".utf8))
        try await sender.send(UDPTelemetryHarness.datagram(token: first, payload: block))
        _ = try await harness.records(count: 1)

        try await harness.redis.restart(empty: true)
        let second = try await harness.seedToken(for: device, lifetimeMilliseconds: 60_000)
        let after = try PayloadBlock(format: .ascii, data: Array("after".utf8))
        // The service's connections come back with backoff: keep sending until one lands.
        let deadline = ContinuousClock.now + .seconds(10)
        var landed: [TelemetryRecord] = []
        while landed.isEmpty, ContinuousClock.now < deadline {
            try await sender.send(UDPTelemetryHarness.datagram(token: second, payload: after))
            try await Task.sleep(for: .milliseconds(200))
            landed = (try? await harness.allRecords()) ?? []
        }
        #expect(landed.first?.payload == after, "\(harness.service.output)")
        #expect(landed.first?.uid == device)
        await harness.stop()
    }

    @Test("SIGTERM while Redis is stalled: what was accepted is still appended, in order, before exit 0")
    func shutdownFlushesBufferedTelemetry() async throws {
        let harness = try await UDPTelemetryHarness.start()
        defer { harness.kill() }
        let token = try await harness.seedToken(for: try UID("sensor-6"), lifetimeMilliseconds: 60_000)
        let sender = try await UDPSender.open(to: harness.stack.udpPort)
        defer { sender.close() }
        func datagram(_ sequence: Int) throws -> [UInt8] {
            let payload = try PayloadBlock(format: .binary, data: UDPSender.bigEndian(UInt64(sequence)))
            return UDPTelemetryHarness.datagram(token: token, payload: payload)
        }
        try await sender.send(try datagram(0))
        _ = try await harness.records(count: 1)

        // A script that busy-waits 1.5 s stalls Redis for everyone, as an overloaded server does.
        let staller = try RedisClient(url: harness.redis.url)
        async let stall = staller.send([
            "EVAL",
            """
            local function micros() local t = redis.call('TIME') return t[1] * 1000000 + t[2] end
            local start = micros()
            while micros() - start < 1500000 do end
            return 1
            """,
            0,
        ])
        try await Task.sleep(for: .milliseconds(200))
        for sequence in 1...50 {
            try await sender.send(try datagram(sequence))
        }
        _ = try await harness.metrics { $0.value("iots_udp_datagrams_received_total") == 51 }
        let status = await harness.service.stop(timeout: .seconds(15))
        _ = try await stall
        await staller.close()

        #expect(status == 0, "\(harness.service.output)")
        let sequences = try await harness.allRecords().map { UDPSender.sendTime(of: $0.payload) }
        #expect(sequences == Array(0...50))
        await harness.stop()
    }

    static func wallMilliseconds() -> Int {
        Int((Date().timeIntervalSince1970 * 1000).rounded(.down))
    }
}

/// The drop reasons the tests provoke (labels of `iots_udp_datagrams_dropped_total`).
enum UDPDropReason: String, CaseIterable {
    case oversize
    case malformed
    case unknownToken = "unknown_token"
    case expired
    case revoked
    case telemetryOff = "telemetry_off"
}

/// A redis-server, a configuration and one udp-telemetry process, plus a Redis client for the
/// test's own reads and writes.
final class UDPTelemetryHarness: Sendable {
    let redis: TestRedis
    let stack: TestStack
    let service: ServiceProcess
    let client: RedisClient
    let keys: KeySpace

    private init(redis: TestRedis, stack: TestStack, service: ServiceProcess, client: RedisClient) {
        self.redis = redis
        self.stack = stack
        self.service = service
        self.client = client
        self.keys = KeySpace(prefix: stack.keyPrefix)
    }

    /// - Parameter groups: `Groups` of the configuration, name → `Telemetry`.
    static func start(datagramMaxSize: Int? = nil, groups: [String: Bool] = [:]) async throws -> UDPTelemetryHarness {
        let redis = try await TestRedis.start()
        var settings: [String: any Sendable] = [:]
        if let datagramMaxSize {
            settings["UDPServer"] = ["DatagramMaxSize": datagramMaxSize] as [String: any Sendable]
        }
        if !groups.isEmpty {
            settings["Groups"] = groups.mapValues { ["Telemetry": $0] as [String: any Sendable] } as [String: any Sendable]
        }
        let stack = try TestStack(redisURL: redis.url, settings: settings)
        let service = try await stack.startReady("udp-telemetry")
        let client = try RedisClient(url: redis.url)
        return UDPTelemetryHarness(redis: redis, stack: stack, service: service, client: client)
    }

    /// Kills the service and Redis (synchronous, for `defer`; idempotent).
    func kill() {
        self.service.kill()
        self.redis.stop()
    }

    /// Closes the test's Redis client, then kills the service and Redis.
    func stop() async {
        await self.client.close()
        self.kill()
    }

    /// Puts `uid` in the ACL in `group` (any key: udp-telemetry reads only the group).
    func addToACL(_ uid: UID, group: String) async throws {
        let entry = ACLEntry(group: try GroupName(group), uid: uid, key: try AuthKey(hex: "00112233445566778899aabbccddeeff"))
        _ = try await self.client.hset(self.keys.acl, fields: [(uid.hex, .bytes(ACLRecord.encode(entry)))])
    }

    /// Stores a fresh token for `uid` as the router does: `<prefix>token:<hex>` → UID hex,
    /// expiring after `lifetimeMilliseconds` (never when nil).
    func seedToken(for uid: UID, lifetimeMilliseconds: Int?) async throws -> TelemetryToken {
        let token = TelemetryToken.random()
        try await self.client.set(
            self.keys.telemetryToken(token.hex), to: .string(uid.hex), expiry: lifetimeMilliseconds.map { .milliseconds($0) })
        return token
    }

    static func datagram(token: TelemetryToken, payload: PayloadBlock) -> [UInt8] {
        var buffer = ByteBuffer()
        TelemetryDatagram(token: token, payload: payload).write(to: &buffer)
        return Array(buffer.readableBytesView)
    }

    /// Every record of the telemetry stream in order, decoded as the router and remote-sync
    /// decode them (an entry may pack several).
    func allRecords() async throws -> [TelemetryRecord] {
        try await self.client.xrange(self.keys.telemetryStream).flatMap { try TelemetryRecord.records(in: $0) }
    }

    /// Waits (10 s at most) until the stream holds `count` records and returns them.
    func records(count: Int) async throws -> [TelemetryRecord] {
        let deadline = ContinuousClock.now + .seconds(10)
        var found: [TelemetryRecord] = []
        while ContinuousClock.now < deadline {
            found = try await self.allRecords()
            if found.count >= count {
                return found
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestSupportError.timeout("\(count) telemetry records (found \(found.count)); service output:\n\(self.service.output)")
    }

    /// Polls `/metrics` until `condition` holds (5 s at most), then returns the last scrape
    /// either way so the test's expectations report the actual values.
    func metrics(until condition: (UDPMetricsScrape) -> Bool) async throws -> UDPMetricsScrape {
        let deadline = ContinuousClock.now + .seconds(5)
        var scrape = UDPMetricsScrape(text: "")
        while ContinuousClock.now < deadline {
            scrape = UDPMetricsScrape(text: try await AdminProbe.get(port: self.stack.adminPort("udp-telemetry"), path: "/metrics").body)
            if condition(scrape) {
                return scrape
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        return scrape
    }
}

/// One scrape of `/metrics` in Prometheus text format.
struct UDPMetricsScrape {
    var text: String

    /// The value of the sample named exactly `series` (name plus labels as rendered).
    func value(_ series: String) -> Double? {
        for line in self.text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    func dropped(_ kind: UDPDropReason) -> Double {
        self.value("iots_udp_datagrams_dropped_total{reason=\"\(kind.rawValue)\"}") ?? 0
    }
}

/// A device's UDP socket on 127.0.0.1, sending to the service's port.
struct UDPSender: Sendable {
    let channel: any Channel
    let target: SocketAddress

    static func open(to port: Int) async throws -> UDPSender {
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        return UDPSender(channel: channel, target: try SocketAddress(ipAddress: "127.0.0.1", port: port))
    }

    func send(_ bytes: [UInt8]) async throws {
        try await self.channel.writeAndFlush(AddressedEnvelope(remoteAddress: self.target, data: ByteBuffer(bytes: bytes))).get()
    }

    /// Queues a datagram; the next ``send(_:)`` sends it (first) and waits for both.
    func sendWithoutWaiting(_ bytes: [UInt8]) {
        self.channel.write(AddressedEnvelope(remoteAddress: self.target, data: ByteBuffer(bytes: bytes)), promise: nil)
    }

    func close() {
        self.channel.close(promise: nil)
    }

    /// Sends a datagram every 50 ms for `duration`, each carrying its send time (Unix ms) as
    /// 8 big-endian bytes; `beforeEach` runs with that time first.
    func sendClockedStream(
        token: TelemetryToken, for duration: Duration, beforeEach: (Int) async throws -> Void
    ) async throws {
        let end = ContinuousClock.now + duration
        while ContinuousClock.now < end {
            let now = UDPTelemetryTests.wallMilliseconds()
            try await beforeEach(now)
            let payload = try PayloadBlock(format: .binary, data: Self.bigEndian(UInt64(now)))
            try await self.send(UDPTelemetryHarness.datagram(token: token, payload: payload))
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    static func bigEndian(_ value: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * $0)) }
    }

    /// The number a datagram of ``sendClockedStream(token:for:beforeEach:)`` (or a sequence
    /// number) carries.
    static func sendTime(of payload: PayloadBlock) -> Int {
        Int(payload.data.reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
    }
}
