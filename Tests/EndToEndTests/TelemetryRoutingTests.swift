import Foundation
import IoTSocket
import NIOCore
import NIOPosix
import Testing
import TestSupport

/// Issue 4's acceptance: telemetry from a device over UDP reaches the central's TCP session as
/// identified telemetry, through real udp-telemetry, router and gateway processes.
@Suite("Telemetry from devices to the central", .serialized)
struct TelemetryRoutingTests {
    static let sensorKey = RoutingHarness.sensorKey
    static let plcKey = RoutingHarness.plcKey
    static let sensor = RoutingHarness.sensor
    static let plc = RoutingHarness.plc
    static let acl = RoutingHarness.acl

    @Test("a device's UDP telemetry in each format reaches the central as ToT 0x6 with its UID; bad datagrams do not")
    func telemetryToCentral() async throws {
        let harness = try await RoutingHarness.start()
        let udp = try await harness.stack.startReady("udp-telemetry")
        let socket = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        do {
            let central = try await harness.central(on: harness.portA, pushing: Self.acl)
            let device = try await TestElement.connect(host: "127.0.0.1", port: harness.portB, uid: Self.sensor, key: Self.sensorKey)
            guard case .telemetryToken(let token) = try await device.receive(timeout: .seconds(5)) else {
                Issue.record("no telemetry token")
                return
            }
            let target = try SocketAddress(ipAddress: "127.0.0.1", port: harness.stack.udpPort)
            func send(_ bytes: [UInt8]) async throws {
                var buffer = socket.allocator.buffer(capacity: bytes.count)
                buffer.writeBytes(bytes)
                try await socket.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: buffer))
            }
            func datagram(_ token: TelemetryToken, _ block: PayloadBlock) -> [UInt8] {
                var buffer = ByteBuffer()
                token.write(to: &buffer)
                block.write(to: &buffer)
                return Array(buffer.readableBytesView)
            }
            let blocks = [
                try PayloadBlock(format: .binary, data: [0, 1, 254, 255]),
                try PayloadBlock(format: .ascii, data: Array("t=21.5".utf8)),
                try PayloadBlock(format: .utf8, data: Array("21,5 °C".utf8)),
                try PayloadBlock(format: .json, data: Array(#"{"t":21.5,"h":40}"#.utf8)),
            ]
            // Dropped on the way: unknown token, truncated, a byte after the block.
            let good = datagram(token, blocks[0])
            try await send(datagram(TelemetryToken(rawValue: token.rawValue ^ 1), blocks[0]))
            try await send(Array(good.dropLast()))
            try await send(good + [0])
            for block in blocks {
                try await send(datagram(token, block))
            }
            for block in blocks {
                #expect(try await central.receive(timeout: .seconds(5)) == .identifiedTelemetry(uid: Self.sensor, payload: block))
            }
            await #expect(throws: (any Error).self) { try await central.receive(timeout: .milliseconds(500)) }
            let metrics = try await AdminProbe.get(port: harness.stack.adminPort("udp-telemetry"), path: "/metrics").body
            #expect(metrics.contains(#"iots_udp_datagrams_dropped_total{reason="unknown_token"} 1"#))
            #expect(metrics.contains(#"iots_udp_datagrams_dropped_total{reason="malformed"} 2"#))

            // A group without telemetry gets no token (its first transmission is the pong).
            let plc = try await TestElement.connect(host: "127.0.0.1", port: harness.portB, uid: Self.plc, key: Self.plcKey)
            try await plc.send(.ping)
            #expect(try await plc.receive(timeout: .seconds(5)) == .pong)

            // The session ends (Close 0x01: dropped): its token stops working within a second.
            await device.close(code: .maintenance)
            try await harness.waitForSession(Self.sensor, nil)
            try await Task.sleep(for: .milliseconds(1200))
            try await send(datagram(token, blocks[0]))
            await #expect(throws: (any Error).self) { try await central.receive(timeout: .seconds(1)) }
            await plc.close()
            await central.close()
        } catch {
            Issue.record("\(error)\n\(harness.output)\n=== udp-telemetry\n\(udp.output)")
        }
        try? await socket.close()
        _ = await udp.stop()
        await harness.stop()
    }
}
