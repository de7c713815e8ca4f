import ArgumentParser
import AsyncHTTPClient
import Foundation
import Histogram
import IoTSocket
import NIOCore
import NIOPosix

/// Request round trips through the HTTP API (`POST /request`) to echoing devices: the central's
/// view of the whole chain (http-api → router → gateway → device and back).
///
/// Devices are added with `PUT /devices/{uid}` (the rest of the ACL is left alone) and removed
/// at the end. Closed loop by default (`--callers` each wait for their answer before the next
/// call); `--rate` switches to an open loop at a fixed total rate, latency measured from each
/// call's scheduled time so a stall is not hidden.
struct HTTPRoundTripBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rtt-http",
        abstract: "POST /request round trips per second and latency through the HTTP API to echoing devices."
    )

    @Option(help: "The API's base URL.") var url = "http://127.0.0.1:8080"
    @Option(help: "The central's auth key (the bearer key), 32 hex digits.") var key = "000102030405060708090a0b0c0d0e0f"
    @Option(help: "A tcp-gateway's host for the devices.") var gatewayHost = "127.0.0.1"
    @Option(help: "A tcp-gateway's port for the devices.") var gatewayPort = 50505
    @Option(help: "Echoing devices.") var devices = 8
    @Option(help: "Concurrent HTTP callers (closed loop), or the cap on calls in flight (open loop).") var callers = 32
    @Option(help: "Measured seconds (after a 1 s warm-up).") var seconds = 10
    @Option(help: "Total calls per second for an open loop; 0 = closed loop, as fast as the callers go.") var rate = 0
    @Option(help: "BINARY payload bytes per call.") var payload = 16
    @Option(help: "The calls' Timeout in seconds.") var timeout = 5
    @Option(help: "The devices' group.") var group = "Bench"
    @Flag(help: "Do not verify the server's certificate (https with a self-signed one).") var insecure = false

    @Option(help: "Client: nio (AsyncHTTPClient and channels) or raw (raw sockets and epoll on one thread, http:// to an IPv4 address only: less of the shared cores).")
    var client = BenchClient.nio

    func validate() throws {
        if self.client == .raw && !self.url.hasPrefix("http://") {
            throw ValidationError("--client raw speaks plain HTTP only: use --client nio for \(self.url)")
        }
    }

    func run() async throws {
        var configuration = self.insecure ? HTTPClient.Configuration(certificateVerification: .none) : HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: max(8, self.callers))
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let api = BenchAPI(client: client, baseURL: self.url, key: self.key)
        var connected: [any Channel] = []
        var rawDevices = RawLoginClient.Outcome()
        var uids: [String] = []
        do {
            var deviceKeys: [AuthKey] = []
            for index in 0..<max(1, self.devices) {
                let uid = "rtt-http-\(index)"
                let deviceKey = try AuthKey(bytes: (0..<16).map { _ in UInt8.random(in: 0...255) })
                try await api.putDevice(uid, group: self.group, keyHex: deviceKey.hex)
                uids.append(uid)
                deviceKeys.append(deviceKey)
                guard self.client == .nio else { continue }
                connected.append(
                    try await BenchElement.connect(
                        group: MultiThreadedEventLoopGroup.singleton, host: self.gatewayHost, port: self.gatewayPort, uid: try UID(uid),
                        key: deviceKey
                    ) { transmission, channel in
                        if case .request(nil, let tracking, let payload) = transmission {
                            channel.writeAndFlush(Transmission.response(uid: nil, tracking: tracking, code: .valid, payload: payload), promise: nil)
                        }
                    })
            }
            if self.client == .raw {
                let wireUIDs = try uids.map { try UID($0) }
                rawDevices = try RawLoginClient(host: self.gatewayHost, ports: [self.gatewayPort], worker: 102) { (wireUIDs[$0], deviceKeys[$0]) }
                    .logIn(first: 0, count: uids.count, concurrency: 64)
                guard rawDevices.failed == 0 else { throw RawSocketError.failed("device login failed: \(rawDevices.firstError ?? "?")") }
            }
            try await api.waitUntilOnline(uids)
            let data = (0..<self.payload).map { _ in String(UInt8.random(in: 0...255)) }.joined(separator: ",")
            let texts = uids.map { #"{"UID":"\#($0)","Timeout":\#(self.timeout),"Format":"BINARY","Payload":[\#(data)]}"# }

            let tally: CallTally
            if self.client == .raw {
                tally = try self.rawCalls(devices: rawDevices, bodies: texts)
            } else {
                let bodies = texts.map { ByteBuffer(string: $0) }
                _ = try await self.closedLoop(api: api, bodies: bodies, for: .seconds(1))
                tally = self.rate > 0
                    ? try await self.openLoop(api: api, bodies: bodies, for: .seconds(self.seconds))
                    : try await self.closedLoop(api: api, bodies: bodies, for: .seconds(self.seconds))
            }
            self.report(tally)
        } catch {
            RawLoginClient.closeWanted(rawDevices.sockets)
            await self.cleanUp(api: api, devices: connected, uids: uids, client: client)
            throw error
        }
        RawLoginClient.closeWanted(rawDevices.sockets)
        await self.cleanUp(api: api, devices: connected, uids: uids, client: client)
    }

    /// The warm-up and the measured calls from raw sockets (``RawHTTPCallers``), the devices
    /// echoing on the same thread.
    private func rawCalls(devices: RawLoginClient.Outcome, bodies: [String]) throws -> CallTally {
        guard let url = URL(string: self.url), let host = url.host else { throw RawSocketError.failed("not a URL: \(self.url)") }
        let port = url.port ?? 80
        let loop = RawPeerLoop()
        loop.addDevices(devices)
        let callers = try RawHTTPCallers(loop: loop, host: host, port: port, count: max(1, self.callers), bearer: self.key, bodies: bodies)
        _ = try callers.run(for: .seconds(1), rate: 0)
        return try callers.run(for: .seconds(self.seconds), rate: self.rate)
    }

    /// `callers` tasks, each calling again as soon as its answer arrives.
    private func closedLoop(api: BenchAPI, bodies: [ByteBuffer], for duration: Duration) async throws -> CallTally {
        let start = ContinuousClock.now
        let end = start + duration
        var total = CallTally()
        try await withThrowingTaskGroup(of: CallTally.self) { group in
            for caller in 0..<max(1, self.callers) {
                group.addTask {
                    var tally = CallTally()
                    var index = caller
                    while ContinuousClock.now < end {
                        let sent = ContinuousClock.now
                        let outcome = await api.call(bodies[index % bodies.count])
                        tally.record(outcome, latency: ContinuousClock.now - sent)
                        index += 1
                    }
                    return tally
                }
            }
            for try await tally in group {
                total.merge(tally)
            }
        }
        total.elapsed = ContinuousClock.now - start
        return total
    }

    /// Calls at `rate` per second whatever the answers do, at most `callers` in flight.
    private func openLoop(api: BenchAPI, bodies: [ByteBuffer], for duration: Duration) async throws -> CallTally {
        let start = ContinuousClock.now
        let interval = Duration.seconds(1) / self.rate
        let count = Int(duration / interval)
        let limit = max(1, self.callers)
        var total = CallTally()
        await withTaskGroup(of: CallTally.self) { group in
            var inFlight = 0
            for index in 0..<count {
                let due = start + interval * index
                try? await Task.sleep(until: due, clock: .continuous)
                // A full window waits for a call to finish; the wait counts in the latency of
                // the calls it delays, since latency runs from each call's due time.
                if inFlight >= limit, let done = await group.next() {
                    total.merge(done)
                    inFlight -= 1
                }
                inFlight += 1
                group.addTask {
                    var tally = CallTally()
                    let outcome = await api.call(bodies[index % bodies.count])
                    tally.record(outcome, latency: ContinuousClock.now - due)
                    return tally
                }
            }
            for await done in group {
                total.merge(done)
            }
        }
        total.elapsed = ContinuousClock.now - start
        return total
    }

    private func report(_ tally: CallTally) {
        let seconds = Double(tally.elapsed.components.seconds) + Double(tally.elapsed.components.attoseconds) / 1e18
        func ms(_ percentile: Double) -> String {
            String(format: "%.3f", Double(tally.latencies.valueAtPercentile(percentile)) / 1000)
        }
        let answered = Int(tally.latencies.totalCount)
        var figures: [(key: String, value: String)] = [
            ("mode", self.rate > 0 ? "open" : "closed"), ("client", self.client.rawValue), ("devices", String(self.devices)), ("callers", String(self.callers)),
            ("target_rate", String(self.rate)), ("payload_bytes", String(self.payload)), ("calls", String(answered)),
            ("seconds", String(format: "%.3f", seconds)),
            ("per_second", String(format: "%.0f", Double(answered) / max(seconds, 0.001))),
            ("p50_ms", ms(50)), ("p90_ms", ms(90)), ("p99_ms", ms(99)), ("p999_ms", ms(99.9)),
            ("max_ms", String(format: "%.3f", Double(tally.latencies.max) / 1000)), ("ok", String(tally.ok)),
        ]
        for (name, count) in tally.errors.sorted(by: { $0.key < $1.key }) {
            figures.append((key: "errors_\(name)", value: String(count)))
        }
        BenchmarkReport(name: "rtt-http", figures: figures).print()
    }

    private func cleanUp(api: BenchAPI, devices: [any Channel], uids: [String], client: HTTPClient) async {
        for device in devices {
            try? await device.close()
        }
        for uid in uids {
            try? await api.deleteDevice(uid)
        }
        try? await client.shutdown()
    }
}

/// What one call ended with.
enum CallOutcome: Sendable {
    /// 200 with this `Code`.
    case code(Int)
    /// Another HTTP status.
    case status(Int)
    /// No HTTP answer (connection refused, reset, client timeout).
    case transport
}

/// Counts and latencies of calls, merged from every caller at the end.
struct CallTally: Sendable {
    /// Latency of every answered call, in microseconds (up to 60 s).
    var latencies = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
    var ok = 0
    /// By `code_<n>`, `http_<status>` or `transport`.
    var errors: [String: Int] = [:]
    var elapsed: Duration = .zero

    mutating func record(_ outcome: CallOutcome, latency: Duration) {
        switch outcome {
        case .code(0):
            self.ok += 1
        case .code(let code):
            self.errors["code_\(code)", default: 0] += 1
        case .status(let status):
            self.errors["http_\(status)", default: 0] += 1
        case .transport:
            self.errors["transport", default: 0] += 1
            return
        }
        _ = self.latencies.record(UInt64(max(0, latency / .microseconds(1))))
    }

    mutating func merge(_ other: CallTally) {
        self.latencies.add(other.latencies)
        self.ok += other.ok
        self.errors.merge(other.errors, uniquingKeysWith: +)
    }
}

/// The few API calls the benchmark makes.
struct BenchAPI: Sendable {
    let client: HTTPClient
    let baseURL: String
    let key: String

    /// Why the API refused a set-up call.
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    func call(_ body: ByteBuffer) async -> CallOutcome {
        do {
            var request = self.request("/request", method: "POST")
            request.body = .bytes(body)
            let response = try await self.client.execute(request, timeout: .seconds(60))
            let bytes = try await response.body.collect(upTo: 1 << 20)
            guard response.status.code == 200 else { return .status(Int(response.status.code)) }
            return .code((try? JSONValue(parsing: bytes))?["Code"]?.intValue ?? -1)
        } catch {
            return .transport
        }
    }

    func putDevice(_ uid: String, group: String, keyHex: String) async throws {
        var request = self.request("/devices/\(uid)", method: "PUT")
        request.body = .bytes(ByteBuffer(string: #"{"GroupName":"\#(group)","AuthKey":"\#(keyHex)"}"#))
        let response = try await self.client.execute(request, timeout: .seconds(15))
        let body = String(buffer: try await response.body.collect(upTo: 1 << 20))
        guard response.status.code == 200 else { throw Failure(description: "PUT /devices/\(uid): \(response.status.code) \(body)") }
    }

    func deleteDevice(_ uid: String) async throws {
        let response = try await self.client.execute(self.request("/devices/\(uid)", method: "DELETE"), timeout: .seconds(15))
        _ = try await response.body.collect(upTo: 1 << 20)
    }

    /// Polls `GET /devices/{uid}` until every device is online (the router saw the logins).
    func waitUntilOnline(_ uids: [String], timeout: Duration = .seconds(15)) async throws {
        let deadline = ContinuousClock.now + timeout
        for uid in uids {
            while true {
                let response = try await self.client.execute(self.request("/devices/\(uid)", method: "GET"), timeout: .seconds(15))
                let body = try await response.body.collect(upTo: 1 << 20)
                if (try? JSONValue(parsing: body))?["status"]?.stringValue == "online" { break }
                guard ContinuousClock.now < deadline else { throw Failure(description: "\(uid) is not online after \(timeout)") }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    private func request(_ path: String, method: String) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: self.baseURL + path)
        request.method = .init(rawValue: method)
        request.headers.add(name: "Authorization", value: "Bearer \(self.key)")
        request.headers.add(name: "Content-Type", value: "application/json")
        return request
    }
}
