import ArgumentParser
import Foundation
import Histogram
import IoTSocket
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// Opens many authenticated device sessions against a gateway, holds them with periodic
/// pings, and reports logins per second and — given the gateway's PID — its memory per session.
///
/// One process can hold at most ~20 000 sockets here (hard open-file limit), so the sessions
/// are spread over worker processes (`sessions-worker`), each binding its own source addresses
/// in 127.0.0.0/8.
struct SessionsBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sessions",
        abstract: "Open N device sessions (plain or TLS), hold them, report login rate and gateway RSS per session."
    )

    @Option(help: "Gateway host.") var host = "127.0.0.1"
    @Option(help: "Gateway port(s), comma-separated: sessions are spread over them.") var port = "50505"
    @Option(help: "Sessions to open.") var sessions = 1000
    @Option(help: "Worker processes (default: one per 15 000 sessions).") var workers: Int?
    @Option(help: "Logins in flight at once per worker.") var concurrency = 256
    @Option(help: "Seconds to hold the sessions once open.") var hold = 5
    @Option(help: "Seconds between pings on each held session.") var pingInterval = 30
    @Flag(help: "Ask for TLS in the initiation.") var tls = false
    @Option(help: "Client: nio (channels, TLS possible) or raw (plain logins on raw sockets and epoll, about half the client CPU per login: more of the shared cores for the gateway).")
    var client = BenchClient.nio
    @Option(help: "PID(s) of the gateway(s), comma-separated, to read RSS before and after.") var gatewayPid: String?
    @OptionGroup var acl: BenchACLOptions

    func validate() throws {
        if self.tls && self.client == .raw {
            throw ValidationError("--client raw logs in plain only: use --client nio with --tls")
        }
    }

    func run() async throws {
        try await self.acl.install(0..<self.sessions)
        let pids = self.gatewayPid?.split(separator: ",").compactMap { Int32($0) } ?? []
        let rssBefore = pids.map(Self.rss).reduce(0, +)
        let workerCount = self.workers ?? max(1, (self.sessions + 14_999) / 15_000)
        let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var processes: [(Process, Pipe)] = []
        let perWorker = (self.sessions + workerCount - 1) / workerCount
        for worker in 0..<workerCount {
            let first = worker * perWorker
            let count = min(perWorker, self.sessions - first)
            guard count > 0 else { break }
            let process = Process()
            process.executableURL = me
            process.arguments =
                [
                    "sessions-worker", "--host", self.host, "--port", self.port, "--first", "\(first)", "--count", "\(count)",
                    "--worker", "\(worker)", "--concurrency", "\(self.concurrency)", "--hold", "\(self.hold)",
                    "--ping-interval", "\(self.pingInterval)", "--client", self.client.rawValue,
                ] + (self.tls ? ["--tls"] : [])
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            processes.append((process, pipe))
        }
        // Workers print "READY" once every session is attempted, then hold them.
        var readers: [LineReader] = processes.map { LineReader(handle: $0.1.fileHandleForReading) }
        var results: [[String: Double]] = []
        for index in readers.indices {
            while let line = readers[index].nextLine() {
                if line.hasPrefix("READY") { break }
            }
        }
        let rssHeld = pids.map(Self.rss).reduce(0, +)
        for index in readers.indices {
            while let line = readers[index].nextLine() {
                if line.hasPrefix("{"), let data = line.data(using: .utf8),
                    let object = try? JSONSerialization.jsonObject(with: data) as? [String: Double]
                {
                    results.append(object)
                }
            }
            processes[index].0.waitUntilExit()
        }
        let established = results.map { $0["established"] ?? 0 }.reduce(0, +)
        let failed = results.map { $0["failed"] ?? 0 }.reduce(0, +)
        let loginSeconds = results.map { $0["login_seconds"] ?? 0 }.max() ?? 0
        var figures: [(key: String, value: String)] = [
            ("sessions", String(self.sessions)), ("tls", self.tls ? "1" : "0"), ("client", self.client.rawValue),
            ("workers", String(processes.count)),
            ("established", String(Int(established))), ("failed", String(Int(failed))),
            ("login_seconds", String(format: "%.3f", loginSeconds)),
            ("logins_per_second", String(format: "%.0f", loginSeconds > 0 ? established / loginSeconds : 0)),
            ("login_p50_ms", String(format: "%.2f", results.map { $0["login_p50_ms"] ?? 0 }.max() ?? 0)),
            ("login_p99_ms", String(format: "%.2f", results.map { $0["login_p99_ms"] ?? 0 }.max() ?? 0)),
        ]
        if !pids.isEmpty {
            let perSession = established > 0 ? Double(rssHeld - rssBefore) / established : 0
            figures += [
                ("gateway_rss_before_kib", String(rssBefore / 1024)), ("gateway_rss_held_kib", String(rssHeld / 1024)),
                ("gateway_bytes_per_session", String(format: "%.0f", perSession)),
            ]
        }
        BenchmarkReport(name: "sessions", figures: figures).print()
    }

    /// Resident memory of a process in bytes (VmRSS), 0 when unreadable.
    static func rss(_ pid: Int32) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
        else { return 0 }
        return (Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) * 1024
    }
}

/// Reads a pipe line by line (workers report progress on stdout).
struct LineReader {
    let handle: FileHandle
    private var pending = Data()

    init(handle: FileHandle) {
        self.handle = handle
    }

    mutating func nextLine() -> String? {
        while true {
            if let newline = self.pending.firstIndex(of: 0x0A) {
                let line = String(decoding: self.pending[self.pending.startIndex..<newline], as: UTF8.self)
                self.pending.removeSubrange(self.pending.startIndex...newline)
                return line
            }
            let chunk = self.handle.availableData
            if chunk.isEmpty { return nil }
            self.pending.append(chunk)
        }
    }
}

/// One worker process of `sessions`: opens its share, prints `READY`, holds, prints a JSON line.
struct SessionsWorker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sessions-worker", abstract: "(internal) one worker of `sessions`.", shouldDisplay: false)

    @Option var host = "127.0.0.1"
    @Option var port = "50505"
    @Option var first = 0
    @Option var count = 1000
    @Option var worker = 0
    @Option var concurrency = 256
    @Option var hold = 5
    @Option var pingInterval = 30
    @Flag var tls = false
    @Option var client = BenchClient.nio

    func run() async throws {
        let ports = self.port.split(separator: ",").compactMap { Int($0) }
        if self.client == .raw {
            return try await self.runRaw(ports: ports)
        }
        let group = MultiThreadedEventLoopGroup.singleton
        let tlsContext = self.tls ? try BenchElement.insecureTLSContext() : nil
        let start = ContinuousClock.now
        // Logins are kept `concurrency` in flight by future callbacks, not a task each: the
        // client must cost the shared cores as little as it can next to the gateway.
        struct Progress {
            var next = 0
            var finished = 0
            var channels: [any Channel] = []
            var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
            var failed = 0
            var firstError: String?
        }
        let progress = Mutex(Progress())
        let allDone = group.next().makePromise(of: Void.self)
        let total = self.count
        let settings = self
        @Sendable func launch() {
            guard let index = progress.withLock({ state -> Int? in
                guard state.next < total else { return nil }
                state.next += 1
                return state.next - 1
            }) else { return }
            let device = settings.first + index
            let source = "127.\(1 + (settings.worker % 200)).\((device / 250) % 250).\(1 + device % 250)"
            let port = ports[device % ports.count]
            let began = ContinuousClock.now
            BenchElement.connectFuture(
                group: group, host: settings.host, port: port, sourceAddress: source, uid: BenchACL.uid(device), key: BenchACL.key, tls: tlsContext
            ).whenComplete { result in
                let elapsed = ContinuousClock.now - began
                let done = progress.withLock { state -> Bool in
                    switch result {
                    case .success(let channel):
                        state.channels.append(channel)
                        _ = state.histogram.record(UInt64(elapsed.components.seconds) * 1_000_000 + UInt64(elapsed.components.attoseconds / 1_000_000_000_000))
                    case .failure(let error):
                        state.failed += 1
                        if state.firstError == nil { state.firstError = "\(error)" }
                    }
                    state.finished += 1
                    return state.finished == total
                }
                if done {
                    allDone.succeed()
                } else if case .failure = result {
                    // A failure can complete at once, on this very stack: do not recurse.
                    group.next().execute { launch() }
                } else {
                    launch()
                }
            }
        }
        if total == 0 {
            allDone.succeed()
        }
        for _ in 0..<min(self.concurrency, total) {
            launch()
        }
        try await allDone.futureResult.get()
        let (channels, histogram, failed, firstError) = progress.withLock { ($0.channels, $0.histogram, $0.failed, $0.firstError) }
        let loginElapsed = ContinuousClock.now - start
        // Written straight to the pipe (print would sit in stdio's buffer): the parent is waiting.
        FileHandle.standardOutput.write(Data("READY \(channels.count) \(failed)\n".utf8))
        if let firstError {
            FileHandle.standardError.write(Data("worker \(self.worker): first login error: \(firstError)\n".utf8))
        }
        // Hold: ping every session periodically so the gateway never sees them idle.
        let holdUntil = ContinuousClock.now + .seconds(self.hold)
        while ContinuousClock.now < holdUntil {
            try await Task.sleep(for: .seconds(min(self.pingInterval, max(1, self.hold))))
            for channel in channels where channel.isActive {
                channel.writeAndFlush(Transmission.ping, promise: nil)
            }
        }
        let stillOpen = channels.filter(\.isActive).count
        // A wanted disconnect (Close 0x01): the sessions are dropped at once, not kept for
        // `KeepSessionSec` to expire in the middle of whatever is measured next.
        let closed = channels.map { channel in
            channel.writeAndFlush(Transmission.close(.maintenance)).flatMap { channel.close() }
        }
        try? await EventLoopFuture.andAllComplete(closed, on: group.next()).get()
        Self.summarize(established: channels.count, failed: failed, stillOpen: stillOpen, loginElapsed: loginElapsed, histogram: histogram)
    }

    /// The worker's last line, read by the parent.
    private static func summarize(established: Int, failed: Int, stillOpen: Int, loginElapsed: Duration, histogram: Histogram<UInt64>) {
        let seconds = Double(loginElapsed.components.seconds) + Double(loginElapsed.components.attoseconds) / 1e18
        let p50 = Double(histogram.valueAtPercentile(50)) / 1000
        let p99 = Double(histogram.valueAtPercentile(99)) / 1000
        let summary =
            "{\"established\":\(established),\"failed\":\(failed),\"still_open\":\(stillOpen),\"login_seconds\":\(seconds),"
            + "\"login_p50_ms\":\(p50),\"login_p99_ms\":\(p99)}\n"
        FileHandle.standardOutput.write(Data(summary.utf8))
    }

    /// The same run with ``RawLoginClient``: log in, report `READY`, hold with pings, report.
    private func runRaw(ports: [Int]) async throws {
        let start = ContinuousClock.now
        let client = try RawLoginClient(host: self.host, ports: ports, worker: self.worker)
        let outcome = client.logIn(first: self.first, count: self.count, concurrency: self.concurrency)
        let loginElapsed = ContinuousClock.now - start
        FileHandle.standardOutput.write(Data("READY \(outcome.sockets.count) \(outcome.failed)\n".utf8))
        if let firstError = outcome.firstError {
            FileHandle.standardError.write(Data("worker \(self.worker): first login error: \(firstError)\n".utf8))
        }
        let holdUntil = ContinuousClock.now + .seconds(self.hold)
        while ContinuousClock.now < holdUntil {
            try await Task.sleep(for: .seconds(min(self.pingInterval, max(1, self.hold))))
            RawLoginClient.ping(outcome.sockets)
        }
        let stillOpen = RawLoginClient.stillOpen(outcome.sockets)
        RawLoginClient.closeWanted(outcome.sockets)
        Self.summarize(
            established: outcome.sockets.count, failed: outcome.failed, stillOpen: stillOpen, loginElapsed: loginElapsed, histogram: outcome.histogram)
    }
}

/// Which client a benchmark drives the concentrator with: NIO channels, or raw sockets and
/// epoll(7) on one thread (``RawLoginClient``, ``RawPeerLoop``), which costs the shared cores
/// less and leaves more of them to the services measured.
enum BenchClient: String, ExpressibleByArgument {
    case nio, raw
}
