import ArgumentParser
import Foundation
import IoTSocket
import NIOCore
import NIOPosix
import Synchronization

/// A realistic fleet for demos and soak tests: devices report telemetry at their own random
/// periods, some sleep (Close 0xA0) and wake up to resume their kept session, some answer
/// requests slowly; a central TCP session sends requests to random devices and receives the
/// telemetry. Prints what happened (logins, resumes, telemetry, answers by code).
struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "A realistic fleet: random telemetry periods, sleepy devices (Close 0xA0 then resume), slow responders."
    )

    @Option(help: "Gateway host.") var host = "127.0.0.1"
    @Option(help: "Gateway port (devices and the central).") var port = 50505
    @Option(help: "udp-telemetry port.") var udpPort = 50505
    @Option(help: "Devices (group Bench; give it Telemetry: true for telemetry).") var devices = 50
    @Option(help: "Seconds to run.") var seconds = 60
    @Option(help: "Share of devices that sleep (Close 0xA0) and wake up.") var sleepy = 0.2
    @Option(help: "Share of devices that answer requests slowly (0.5–3 s).") var slow = 0.1
    @Option(help: "Telemetry period range in seconds, e.g. 1-10.") var period = "1-10"
    @Option(help: "Central requests per second (0: no central).") var requests = 5.0
    @Option(help: "Central auth key (hex).") var centralKey = "000102030405060708090a0b0c0d0e0f"
    @OptionGroup var acl: BenchACLOptions

    func run() async throws {
        try await self.acl.install(0..<self.devices)
        let bounds = self.period.split(separator: "-").compactMap { Double($0) }
        guard bounds.count == 2, bounds[0] > 0, bounds[1] >= bounds[0] else {
            throw ValidationError("--period must look like 1-10 (seconds, low-high)")
        }
        let group = MultiThreadedEventLoopGroup.singleton
        let tally = FleetTally()
        let udp = try await DatagramBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        let target = try SocketAddress(ipAddress: self.host == "localhost" ? "127.0.0.1" : self.host, port: self.udpPort)
        let end = ContinuousClock.now + .seconds(self.seconds)

        var central: (any Channel)?
        if self.requests > 0 {
            central = try await BenchElement.connect(
                group: group, host: self.host, port: self.port, uid: .central, key: try AuthKey(hex: self.centralKey)
            ) { transmission, _ in
                switch transmission {
                case .response(_, _, let code, _): tally.answer(code)
                case .identifiedTelemetry: tally.add(\.telemetryReceived)
                default: break
                }
            }
        }
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            for index in 0..<self.devices {
                let kind = Double(index) / Double(self.devices)
                let isSleepy = kind < self.sleepy
                let isSlow = !isSleepy && kind < self.sleepy + self.slow
                tasks.addTask {
                    try await Self.runDevice(
                        index: index, sleepy: isSleepy, slow: isSlow, period: bounds[0]...bounds[1], until: end, host: self.host,
                        port: self.port, udp: udp, target: target, tally: tally)
                }
            }
            if let central {
                let interval = Duration.seconds(1 / self.requests)
                let devices = self.devices
                tasks.addTask {
                    var tracking = UInt16.random(in: 0...UInt16.max)
                    while ContinuousClock.now < end {
                        try await Task.sleep(for: interval)
                        tracking &+= 1
                        let payload = try PayloadBlock(format: .ascii, data: Array("status?".utf8))
                        central.writeAndFlush(Transmission.request(uid: BenchACL.uid(Int.random(in: 0..<devices)), tracking: tracking, payload: payload), promise: nil)
                        tally.add(\.requestsSent)
                    }
                }
            }
            try await tasks.waitForAll()
        }
        try await Task.sleep(for: .seconds(3))  // answers and telemetry still on their way
        central?.close(promise: nil)
        try await udp.close()
        BenchmarkReport(name: "simulate", figures: [("devices", String(self.devices)), ("seconds", String(self.seconds))] + tally.figures).print()
    }

    /// One device's life: log in, report telemetry, answer requests; a sleepy one says Close
    /// 0xA0 after a while, stays away, and logs in again (resuming its kept session).
    static func runDevice(
        index: Int, sleepy: Bool, slow: Bool, period: ClosedRange<Double>, until end: ContinuousClock.Instant, host: String, port: Int,
        udp: any Channel, target: SocketAddress, tally: FleetTally
    ) async throws {
        let token = Mutex<TelemetryToken?>(nil)
        try await Task.sleep(for: .milliseconds(Int.random(in: 0...2000)))  // devices do not all boot at once
        while ContinuousClock.now < end {
            let channel: any Channel
            do {
                channel = try await BenchElement.connect(
                    group: MultiThreadedEventLoopGroup.singleton, host: host, port: port, uid: BenchACL.uid(index), key: BenchACL.key
                ) { transmission, channel in
                    switch transmission {
                    case .telemetryToken(let received):
                        token.withLock { $0 = received }
                    case .request(nil, let tracking, let payload):
                        let answer = Transmission.response(uid: nil, tracking: tracking, code: .valid, payload: payload)
                        if slow {
                            channel.eventLoop.scheduleTask(in: .milliseconds(Int64.random(in: 500...3000))) {
                                channel.writeAndFlush(answer, promise: nil)
                            }
                        } else {
                            channel.writeAndFlush(answer, promise: nil)
                        }
                    default:
                        break
                    }
                }
            } catch {
                tally.add(\.loginFailures)
                try await Task.sleep(for: .seconds(1))
                continue
            }
            tally.add(\.logins)
            let awakeUntil = sleepy ? min(end, ContinuousClock.now + .seconds(Double.random(in: 5...20))) : end
            while ContinuousClock.now < awakeUntil {
                try await Task.sleep(for: .seconds(Double.random(in: period)))
                guard let current = token.withLock({ $0 }) else { continue }
                var buffer = udp.allocator.buffer(capacity: 32)
                current.write(to: &buffer)
                try PayloadBlock(format: .json, data: Array(#"{"t":\#(Int.random(in: 15...30)),"n":\#(index)}"#.utf8)).write(to: &buffer)
                udp.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: buffer), promise: nil)
                tally.add(\.telemetrySent)
            }
            if sleepy && ContinuousClock.now < end {
                try? await channel.writeAndFlush(Transmission.close(.sleeping)).get()
                try? await channel.close()
                tally.add(\.sleeps)
                try await Task.sleep(for: .seconds(Double.random(in: 5...15)))
            } else {
                try? await channel.close()
            }
        }
    }
}

/// What the fleet did, counted from every device's task and the central's event loop.
final class FleetTally: Sendable {
    struct Counts {
        var logins = 0
        var loginFailures = 0
        var sleeps = 0
        var telemetrySent = 0
        var telemetryReceived = 0
        var requestsSent = 0
        var answers: [UInt8: Int] = [:]
    }

    private let counts = Mutex(Counts())

    func add(_ field: WritableKeyPath<Counts, Int>) {
        self.counts.withLock { $0[keyPath: field] += 1 }
    }

    func answer(_ code: ResponseCode) {
        self.counts.withLock { $0.answers[code.rawValue, default: 0] += 1 }
    }

    var figures: [(key: String, value: String)] {
        self.counts.withLock { counts in
            let answers = counts.answers.sorted { $0.key < $1.key }.map { "0x\(String($0.key, radix: 16)):\($0.value)" }.joined(separator: ",")
            return [
                ("logins", String(counts.logins)), ("login_failures", String(counts.loginFailures)), ("sleeps", String(counts.sleeps)),
                ("telemetry_sent", String(counts.telemetrySent)), ("telemetry_received", String(counts.telemetryReceived)),
                ("requests_sent", String(counts.requestsSent)), ("answers", answers.isEmpty ? "none" : answers),
            ]
        }
    }
}
