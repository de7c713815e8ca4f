import ArgumentParser
import Foundation
import Histogram
import IoTSocket
import NIOCore
import NIOPosix

/// Central → device round trips over a central TCP session: D echoing devices, one central
/// keeping C requests in flight (closed loop) or sending at a fixed rate, for T seconds.
struct TCPRoundTripBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rtt-tcp",
        abstract: "Request round trips from a central TCP session to echoing devices: req/s and latency percentiles."
    )

    @Option(help: "Gateway host.") var host = "127.0.0.1"
    @Option(help: "Gateway port for the devices.") var port = 50505
    @Option(help: "Gateway port for the central (default: the devices' port).") var centralPort: Int?
    @Option(help: "Echoing devices.") var devices = 32
    @Option(help: "Requests in flight at once (closed loop; ignored with --rate).") var concurrency = 32
    @Option(help: "Fixed request rate per second (0: closed loop as fast as possible).") var rate = 0
    @Option(help: "Seconds to measure.") var seconds = 10
    @Option(help: "Payload bytes per request.") var payload = 32
    @Option(help: "Central auth key (hex).") var centralKey = "000102030405060708090a0b0c0d0e0f"
    @Option(help: "Client: nio (channels) or raw (raw sockets and epoll on one thread, plain only: less of the shared cores).")
    var client = BenchClient.nio
    @Option(help: "Write each measured answer here, one line each: microseconds from the first request's due time to this one's, and its latency in microseconds (to see when the slow ones came).")
    var latencyLog: String?
    @OptionGroup var acl: BenchACLOptions

    func run() async throws {
        try await self.acl.install(0..<self.devices)
        if self.client == .raw {
            try self.runRaw()
            return
        }
        let group = MultiThreadedEventLoopGroup.singleton
        var deviceChannels: [any Channel] = []
        for index in 0..<self.devices {
            deviceChannels.append(
                try await BenchElement.connect(
                    group: group, host: self.host, port: self.port, uid: BenchACL.uid(index), key: BenchACL.key
                ) { transmission, channel in
                    if case .request(nil, let tracking, let payload) = transmission {
                        channel.writeAndFlush(Transmission.response(uid: nil, tracking: tracking, code: .valid, payload: payload), promise: nil)
                    }
                })
        }
        try await Task.sleep(for: .milliseconds(500))  // let the router record every session
        let driver = RoundTripDriver(
            devices: (0..<self.devices).map(BenchACL.uid), payload: try PayloadBlock(format: .binary, data: [UInt8](repeating: 7, count: self.payload)),
            keepsLog: self.latencyLog != nil)
        let central = try await BenchElement.connect(
            group: group, host: self.host, port: self.centralPort ?? self.port, uid: .central, key: try AuthKey(hex: self.centralKey)
        ) { transmission, channel in
            driver.received(transmission, channel: channel)
        }
        let report = try await driver.run(on: central, seconds: self.seconds, concurrency: self.concurrency, rate: self.rate, latencyLog: self.latencyLog)
        central.close(promise: nil)
        for channel in deviceChannels { channel.close(promise: nil) }
        self.printReport(report)
    }

    private func printReport(_ report: [(key: String, value: String)]) {
        BenchmarkReport(
            name: "rtt-tcp",
            figures: [
                ("devices", String(self.devices)), ("mode", self.rate > 0 ? "rate" : "closed"),
                ("concurrency", String(self.concurrency)), ("target_rate", String(self.rate)), ("client", self.client.rawValue),
            ] + report
        ).print()
    }

    /// The same run from raw sockets (``RawPeerLoop``): the devices and the central on one thread.
    private func runRaw() throws {
        let devices = try RawLoginClient(host: self.host, ports: [self.port], worker: 100).logIn(first: 0, count: self.devices, concurrency: 64)
        let centralKey = try AuthKey(hex: self.centralKey)
        let central = try RawLoginClient(host: self.host, ports: [self.centralPort ?? self.port], worker: 101) { _ in (.central, centralKey) }
            .logIn(first: 0, count: 1, concurrency: 1)
        defer { RawLoginClient.closeWanted(devices.sockets + central.sockets) }
        guard devices.failed == 0, let centralSocket = central.sockets.first else {
            throw RawSocketError.failed("login failed: \(devices.firstError ?? central.firstError ?? "?")")
        }
        usleep(500_000)  // let the router record every session
        let loop = RawPeerLoop()
        loop.addDevices(devices)
        let peer = RawPeer(socket: centralSocket, leftover: central.leftovers[centralSocket] ?? [])
        loop.addDriver(peer)
        var ledger = RoundTripLedger(
            devices: (0..<self.devices).map(BenchACL.uid), payload: try PayloadBlock(format: .binary, data: [UInt8](repeating: 7, count: self.payload)),
            keepsLog: self.latencyLog != nil)
        let report = try Self.roundTrips(loop: loop, central: peer, ledger: &ledger, seconds: self.seconds, concurrency: self.concurrency, rate: self.rate)
        if let path = self.latencyLog { try ledger.writeLog(to: path) }
        self.printReport(report)
    }

    /// ``RoundTripDriver/run(on:seconds:concurrency:rate:drainLimit:)`` on raw sockets: the same
    /// schedule (closed loop, or every request due by each millisecond's turn, timed from when
    /// it was due) and the same wait for the answers still in flight at the end.
    private static func roundTrips(
        loop: RawPeerLoop, central: RawPeer, ledger: inout RoundTripLedger, seconds: Int, concurrency: Int, rate: Int,
        drainLimit: Duration = .seconds(15)
    ) throws -> [(key: String, value: String)] {
        let start = ContinuousClock.now
        let end = start + .seconds(seconds)
        let interval = Duration.nanoseconds(Int64(1_000_000_000 / max(1, rate)))
        var scheduled = 0
        var elapsed: Duration?
        var drainUntil = end + drainLimit
        ledger.measuring = true
        if rate == 0 {
            for _ in 0..<concurrency { ledger.nextRequest(intended: start).write(to: &central.output) }
        }
        while true {
            let now = ContinuousClock.now
            if elapsed == nil {
                if now >= end {
                    elapsed = now - start
                    ledger.measuring = false
                    drainUntil = now + drainLimit
                } else if rate > 0 {
                    let due = Int((now - start) / interval)
                    while scheduled < due {
                        scheduled += 1
                        ledger.nextRequest(intended: start + interval * scheduled).write(to: &central.output)
                    }
                }
            } else if ledger.pending.isEmpty || now >= drainUntil {
                break
            }
            try loop.flush(central)
            try loop.turn(timeoutMilliseconds: rate > 0 || elapsed != nil ? 1 : 20) { peer, now in
                while let transmission = try Transmission.read(from: &peer.input) {
                    if transmission == .ping {
                        Transmission.pong.write(to: &peer.output)
                    } else if ledger.received(transmission, at: now), rate == 0 {
                        ledger.nextRequest(intended: .now).write(to: &peer.output)
                    }
                }
            }
        }
        return ledger.figures(elapsed: elapsed ?? .zero)
    }
}

/// The requests of one run: each device's next tracking number, what is in flight since when
/// (its intended send time), and the latencies and codes of the answers measured. Shared by the
/// NIO driver and the raw-socket one.
struct RoundTripLedger {
    let devices: [UID]
    let payload: PayloadBlock
    /// Answers received while false are matched (their tracking number is free again) but not
    /// counted.
    var measuring = false
    private(set) var pending: [UInt64: ContinuousClock.Instant] = [:]
    private var nextTracking: [UInt16]
    private var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
    private var codes: [UInt8: Int] = [:]
    private var sent = 0
    private var completed = 0
    private var cursor = 0
    /// Each measured answer's due time and latency, when asked for (`--latency-log`).
    private var log: [(due: ContinuousClock.Instant, latency: Duration)]?

    init(devices: [UID], payload: PayloadBlock, keepsLog: Bool = false) {
        self.devices = devices
        self.payload = payload
        self.log = keepsLog ? [] : nil
        // A random start on each device: the bench's UIDs are the same from run to run, and a
        // request left in flight when the previous run stopped (its device gone before
        // answering) keeps its tracking number busy until the router's timeout (0xA2).
        self.nextTracking = devices.map { _ in UInt16.random(in: 0...UInt16.max) }
    }

    private static func key(device: Int, tracking: UInt16) -> UInt64 { UInt64(device) << 16 | UInt64(tracking) }

    /// The next request (devices in turn), in flight from `intended` on.
    mutating func nextRequest(intended: ContinuousClock.Instant) -> Transmission {
        let device = self.cursor % self.devices.count
        self.cursor += 1
        let tracking = self.nextTracking[device]
        self.nextTracking[device] = tracking &+ 1
        self.pending[Self.key(device: device, tracking: tracking)] = intended
        self.sent += 1
        return .request(uid: self.devices[device], tracking: tracking, payload: self.payload)
    }

    /// Matches a transmission the central received, at `now`; true when it answered a request
    /// and was counted (measuring).
    mutating func received(_ transmission: Transmission, at now: ContinuousClock.Instant) -> Bool {
        guard case .response(let uid?, let tracking, let code, _) = transmission,
            let device = Int(uid.string.dropFirst("bench-".count)),  // bench-<n>: the index is in the name
            let began = self.pending.removeValue(forKey: Self.key(device: device, tracking: tracking)),
            self.measuring
        else { return false }
        let elapsed = now - began
        self.log?.append((began, elapsed))
        _ = self.histogram.record(UInt64(max(0, elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000)))
        self.codes[code.rawValue, default: 0] += 1
        self.completed += 1
        return true
    }

    /// Writes the answers kept for `--latency-log`, in the order they came.
    func writeLog(to path: String) throws {
        guard let log = self.log, let first = log.map(\.due).min() else { return }
        let lines = log.map { "\(Int(($0.due - first) / .microseconds(1))) \(Int($0.latency / .microseconds(1)))\n" }
        try lines.joined().write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// The report's figures for a run that measured for `elapsed`.
    func figures(elapsed: Duration) -> [(key: String, value: String)] {
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let errors = self.codes.filter { $0.key != 0 }.map { "0x\(String($0.key, radix: 16)):\($0.value)" }.sorted().joined(separator: ",")
        func ms(_ percentile: Double) -> String { String(format: "%.3f", Double(self.histogram.valueAtPercentile(percentile)) / 1000) }
        return [
            ("seconds", String(format: "%.2f", seconds)), ("sent", String(self.sent)), ("completed", String(self.completed)),
            ("per_second", String(format: "%.0f", Double(self.completed) / seconds)),
            ("p50_ms", ms(50)), ("p90_ms", ms(90)), ("p99_ms", ms(99)), ("p999_ms", ms(99.9)),
            ("max_ms", String(format: "%.3f", Double(self.histogram.max) / 1000)), ("errors", errors.isEmpty ? "none" : errors),
            ("unanswered", String(self.pending.count)),
        ]
    }
}

/// Sends requests and matches responses, entirely on the central channel's event loop.
///
/// `@unchecked Sendable`: every mutable field is touched only on `eventLoop` (set in `run`
/// before the first request; `received` is called by the channel handler on that loop).
final class RoundTripDriver: @unchecked Sendable {
    private var ledger: RoundTripLedger
    private var closedLoop = true

    init(devices: [UID], payload: PayloadBlock, keepsLog: Bool = false) {
        self.ledger = RoundTripLedger(devices: devices, payload: payload, keepsLog: keepsLog)
    }

    /// - Parameter drainLimit: how long to wait after the measured seconds for the answers to
    ///   requests still in flight (longer than the router's request timeout).
    func run(
        on channel: any Channel, seconds: Int, concurrency: Int, rate: Int, latencyLog: String? = nil, drainLimit: Duration = .seconds(15)
    ) async throws -> [(key: String, value: String)] {
        let loop = channel.eventLoop
        let start = ContinuousClock.now
        try await loop.submit {
            self.ledger.measuring = true
            self.closedLoop = rate == 0
            if rate == 0 {
                for _ in 0..<concurrency { self.send(on: channel, intended: .now) }
            }
        }.get()
        var timer: RepeatedTask?
        if rate > 0 {
            // Every millisecond, every request due by then (computed from the time elapsed, not
            // from how often the timer fired), each timed from when it was due: a stall of the
            // concentrator is not hidden (no coordinated omission).
            let begin = ContinuousClock.now
            let interval = Duration.nanoseconds(Int64(1_000_000_000 / rate))
            // Touched only on `loop`, where the repeated task runs.
            nonisolated(unsafe) var scheduled = 0
            timer = loop.scheduleRepeatedTask(initialDelay: .milliseconds(1), delay: .milliseconds(1)) { _ in
                let elapsed = ContinuousClock.now - begin
                let due = Int(elapsed / interval)
                while scheduled < due {
                    scheduled += 1
                    self.send(on: channel, intended: begin + interval * scheduled)
                }
            }
        }
        try await Task.sleep(for: .seconds(seconds))
        let elapsed = ContinuousClock.now - start
        timer?.cancel()
        try await loop.submit { self.ledger.measuring = false }.get()
        // Every request gets exactly one answer: wait for those still in flight (answers, or
        // 0xA1 at the router's timeout) before the devices go, so none is left busy for the
        // next run; what is still unanswered after `drainLimit` is reported.
        let drainUntil = ContinuousClock.now + drainLimit
        while try await loop.submit({ !self.ledger.pending.isEmpty }).get(), ContinuousClock.now < drainUntil {
            try await Task.sleep(for: .milliseconds(20))
        }
        return try await loop.submit {
            if let latencyLog { try self.ledger.writeLog(to: latencyLog) }
            return self.ledger.figures(elapsed: elapsed)
        }.get()
    }

    private func send(on channel: any Channel, intended: ContinuousClock.Instant) {
        channel.writeAndFlush(self.ledger.nextRequest(intended: intended), promise: nil)
    }

    /// A transmission for the central (on its event loop).
    func received(_ transmission: Transmission, channel: any Channel) {
        if self.ledger.received(transmission, at: .now), self.closedLoop {
            self.send(on: channel, intended: .now)
        }
    }
}
