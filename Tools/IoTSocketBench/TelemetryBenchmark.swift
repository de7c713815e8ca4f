import ArgumentParser
import Foundation
import Histogram
import IoTSocket
import NIOCore
import NIOPosix
import Synchronization

/// Telemetry end to end: D devices log in (receiving their telemetry tokens), send UDP
/// datagrams at a fixed total rate, and a central TCP session receives them as identified
/// telemetry (ToT 0x6). Reports sent, received, loss and latency from send to receipt.
///
/// Each datagram carries its send time (monotonic nanoseconds, same machine), so latency is
/// measured per datagram through udp-telemetry, Redis, the router and the gateway.
struct TelemetryBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "telemetry",
        abstract: "UDP telemetry from D devices to a central TCP session: sent, received, loss, p50/p99 latency."
    )

    @Option(help: "Gateway host.") var host = "127.0.0.1"
    @Option(help: "Gateway port (devices and the central).") var port = 50505
    @Option(help: "udp-telemetry port.") var udpPort = 50505
    @Option(help: "Devices (their group must have Telemetry: true; the ACL uses group Bench).") var devices = 100
    @Option(help: "Datagrams per second in total.") var rate = 10_000
    @Option(help: "Seconds to send.") var seconds = 10
    @Option(help: "Payload bytes per datagram (at least 8).") var payload = 32
    @Option(help: "Central auth key (hex).") var centralKey = "000102030405060708090a0b0c0d0e0f"
    @OptionGroup var acl: BenchACLOptions

    func run() async throws {
        try await self.acl.install(0..<self.devices)
        let group = MultiThreadedEventLoopGroup.singleton
        let receiver = TelemetryReceiver()
        let central = try await BenchElement.connect(
            group: group, host: self.host, port: self.port, uid: .central, key: try AuthKey(hex: self.centralKey)
        ) { transmission, _ in
            if case .identifiedTelemetry(_, let payload) = transmission {
                receiver.received(payload.data)
            }
        }
        let tokens = Mutex<[Int: TelemetryToken]>([:])
        var deviceChannels: [any Channel] = []
        for index in 0..<self.devices {
            deviceChannels.append(
                try await BenchElement.connect(group: group, host: self.host, port: self.port, uid: BenchACL.uid(index), key: BenchACL.key) {
                    transmission, _ in
                    if case .telemetryToken(let token) = transmission {
                        tokens.withLock { $0[index] = token }
                    }
                })
        }
        let deadline = ContinuousClock.now + .seconds(10)
        while tokens.withLock({ $0.count }) < self.devices {
            guard ContinuousClock.now < deadline else {
                throw ValidationError("only \(tokens.withLock { $0.count }) of \(self.devices) devices received a telemetry token: is group Bench configured with Telemetry: true?")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        let tokenList = tokens.withLock { dictionary in (0..<self.devices).map { dictionary[$0]! } }

        let socket = try await DatagramBootstrap(group: group)
            .channelOption(.socketOption(.so_sndbuf), value: 4 * 1024 * 1024)
            .bind(host: "127.0.0.1", port: 0).get()
        let target = try SocketAddress(ipAddress: self.host == "localhost" ? "127.0.0.1" : self.host, port: self.udpPort)
        var sent = 0
        let start = ContinuousClock.now
        let end = start + .seconds(self.seconds)
        let perMillisecond = Double(self.rate) / 1000
        var owed = 0.0
        var tick = start
        var padding = [UInt8](repeating: 0x55, count: max(0, self.payload - 8))
        while ContinuousClock.now < end {
            tick = tick.advanced(by: .milliseconds(1))
            owed += perMillisecond
            var due: [ByteBuffer] = []
            while owed >= 1 {
                owed -= 1
                let token = tokenList[sent % tokenList.count]
                var buffer = socket.allocator.buffer(capacity: 11 + self.payload)
                buffer.writeInteger(token.rawValue)
                buffer.writeInteger(UInt8(0x00))
                buffer.writeInteger(UInt16(8 + padding.count))
                buffer.writeInteger(DispatchTime.now().uptimeNanoseconds)
                buffer.writeBytes(padding)
                due.append(buffer)
                sent += 1
            }
            // One hop to the socket's loop per millisecond's worth, not one per datagram.
            let batch = due
            socket.eventLoop.execute {
                for buffer in batch {
                    socket.write(AddressedEnvelope(remoteAddress: target, data: buffer), promise: nil)
                }
                socket.flush()
            }
            let now = ContinuousClock.now
            if tick > now {
                try await Task.sleep(until: tick, clock: .continuous)
            }
        }
        padding.removeAll()
        let sendSeconds = ContinuousClock.now - start
        // Let what is in flight arrive.
        var last = -1
        while receiver.count != last {
            last = receiver.count
            try await Task.sleep(for: .seconds(1))
        }
        try await socket.close()
        central.close(promise: nil)
        for channel in deviceChannels { channel.close(promise: nil) }
        let summary = receiver.summary()
        let elapsed = Double(sendSeconds.components.seconds) + Double(sendSeconds.components.attoseconds) / 1e18
        BenchmarkReport(
            name: "telemetry",
            figures: [
                ("devices", String(self.devices)), ("target_rate", String(self.rate)), ("seconds", String(format: "%.2f", elapsed)),
                ("sent", String(sent)), ("received", String(summary.count)),
                ("loss", String(format: "%.4f", sent > 0 ? Double(sent - summary.count) / Double(sent) : 0)),
                ("received_per_second", String(format: "%.0f", Double(summary.count) / elapsed)),
                ("p50_ms", String(format: "%.3f", summary.p50)), ("p99_ms", String(format: "%.3f", summary.p99)),
                ("max_ms", String(format: "%.3f", summary.max)),
            ]
        ).print()
    }
}

/// Counts identified telemetry and records its latency; shared between the central's event
/// loop (receiving) and the command (reading at the end), hence the mutex.
final class TelemetryReceiver: Sendable {
    private struct State {
        var count = 0
        var histogram = Histogram<UInt64>(highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)
    }

    private let state = Mutex(State())

    var count: Int { self.state.withLock { $0.count } }

    func received(_ data: [UInt8]) {
        guard data.count >= 8 else { return }
        let sentAt = data.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let now = DispatchTime.now().uptimeNanoseconds
        self.state.withLock { state in
            state.count += 1
            _ = state.histogram.record(now > sentAt ? (now - sentAt) / 1000 : 0)
        }
    }

    func summary() -> (count: Int, p50: Double, p99: Double, max: Double) {
        self.state.withLock { state in
            (state.count, Double(state.histogram.valueAtPercentile(50)) / 1000, Double(state.histogram.valueAtPercentile(99)) / 1000,
             Double(state.histogram.max) / 1000)
        }
    }
}
