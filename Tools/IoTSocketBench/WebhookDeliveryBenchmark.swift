import ArgumentParser
import Foundation
import IoTSocket
import Messaging
import NIOCore
import NIOHTTP1
import NIOPosix
import RedisBus
import Synchronization

/// Telemetry webhook deliveries by one webhook-dispatcher process to a local keep-alive sink:
/// deliveries per second and the queue-to-send latency (XADD of the job → the request at the
/// sink).
///
/// The bench runs the sink itself, starts the dispatcher (`--dispatcher`, release build) on a
/// private key prefix, appends the jobs to the telemetry webhook stream (all at once by
/// default, measuring throughput; paced with `--rate` to see latency under a given load), waits
/// for every delivery, then stops the dispatcher and deletes its keys.
struct WebhookDeliveryBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "webhook-deliveries",
        abstract: "Telemetry webhook deliveries per second by one dispatcher, with queue-to-send latency."
    )

    @Option(help: "Redis URL.") var redis = "redis://127.0.0.1:6379"
    @Option(help: "Telemetry jobs in total.") var count = 200_000
    @Option(help: "Distinct devices the jobs come from.") var devices = 1_000
    @Option(help: "Jobs per second (0: all at once).") var rate = 0
    @Option(help: "Central.WebHooks.MaxInFlight of the dispatcher.") var maxInFlight = 64
    @Option(help: "The webhook-dispatcher executable (default: next to this one).") var dispatcher: String?
    @Option(help: "Give up after this many seconds.") var timeout = 300

    func run() async throws {
        let recorder = DeliveryRecorder()
        let group = MultiThreadedEventLoopGroup.singleton
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(SinkHandler(recorder: recorder))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let sinkPort = server.localAddress?.port ?? 0

        let prefix = "bench\(UInt32.random(in: 0...UInt32.max)):"
        let keys = KeySpace(prefix: prefix)
        let adminPort = Int.random(in: 20_000...29_999)
        let configPath = try Self.writeConfiguration(
            redis: self.redis, prefix: prefix, sinkPort: sinkPort, adminPort: adminPort, maxInFlight: self.maxInFlight)
        let executable = self.dispatcher
            ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("webhook-dispatcher").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["--config", configPath]
        try process.run()

        let connection = try await RedisConnection.connect(to: try RedisURL(self.redis), configuration: .init(), eventLoopGroup: group)
        // Ready when its consumer group exists.
        let readyBy = ContinuousClock.now + .seconds(30)
        while (try? await connection.xinfoGroups(keys.webhookTelemetry))?.isEmpty ?? true {
            guard ContinuousClock.now < readyBy, process.isRunning else {
                process.terminate()
                throw ValidationError("webhook-dispatcher did not start (\(executable))")
            }
            try await Task.sleep(for: .milliseconds(50))
        }

        let uids = try (0..<max(1, self.devices)).map { try UID("bench-\($0)") }
        let batch = 256
        var produced = 0
        let producingStarted = ContinuousClock.now
        while produced < self.count {
            let size = min(batch, self.count - produced)
            let appends = try (0..<size).map { offset in
                let stamp = String(DeliveryRecorder.nowMicroseconds())
                let job = WebhookJob.telemetry(
                    uid: uids[(produced + offset) % uids.count], payload: try PayloadBlock(format: .ascii, data: Array(stamp.utf8)),
                    receivedAtMilliseconds: Int(DeliveryRecorder.nowMicroseconds() / 1000))
                return StreamAppend(stream: keys.webhookTelemetry, fields: job.fields)
            }
            _ = try await connection.xadd(appends)
            produced += size
            if self.rate > 0 {
                let due = producingStarted + .seconds(Double(produced) / Double(self.rate))
                if due > .now { try await Task.sleep(until: due) }
            }
        }

        let giveUp = ContinuousClock.now + .seconds(self.timeout)
        while recorder.count < self.count && ContinuousClock.now < giveUp && process.isRunning {
            try await Task.sleep(for: .milliseconds(100))
        }
        process.terminate()
        process.waitUntilExit()
        let figures = recorder.figures(expected: self.count)
        _ = try? await connection.send(
            ["DEL", .string(keys.webhookTelemetry), .string(keys.webhookRetries(.telemetry)), .string(keys.webhookRetryMessages(.telemetry)),
             .string(keys.webhookDeadLetters(.telemetry)), .string(keys.webhookApplication(.telemetry)), .string(keys.webhookApplications)])
        await connection.close()
        try await server.close()
        try? FileManager.default.removeItem(atPath: configPath)

        BenchmarkReport(
            name: "webhook-deliveries",
            figures: [
                ("jobs", String(self.count)), ("devices", String(self.devices)), ("rate", String(self.rate)),
                ("max_in_flight", String(self.maxInFlight)),
            ] + figures
        ).print()
        if recorder.count < self.count {
            throw ValidationError("only \(recorder.count) of \(self.count) delivered within \(self.timeout) s")
        }
    }

    private static func writeConfiguration(redis: String, prefix: String, sinkPort: Int, adminPort: Int, maxInFlight: Int) throws -> String {
        let document: [String: Any] = [
            "Central": [
                "AuthKey": "000102030405060708090a0b0c0d0e0f",
                "WebHooks": ["Telemetry": "http://127.0.0.1:\(sinkPort)/telemetry", "MaxInFlight": maxInFlight],
            ],
            "Redis": ["URL": redis, "KeyPrefix": prefix],
            "Admin": ["Addr": "127.0.0.1", "Ports": ["webhook-dispatcher": adminPort]],
            "Log": ["Level": "warning"],
        ]
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("iots-bench-\(UUID().uuidString).json").path
        try JSONSerialization.data(withJSONObject: document).write(to: URL(fileURLWithPath: path))
        return path
    }
}

/// Counts deliveries at the sink and their queue-to-send latencies.
private final class DeliveryRecorder: Sendable {
    private struct State {
        var latencies: [Int64] = []
        var first: ContinuousClock.Instant?
        var last: ContinuousClock.Instant?
    }

    private let state = Mutex(State())

    var count: Int { self.state.withLock { $0.latencies.count } }

    func record(sentAtMicroseconds: Int64) {
        let latency = Self.nowMicroseconds() - sentAtMicroseconds
        let now = ContinuousClock.now
        self.state.withLock { state in
            state.latencies.append(latency)
            if state.first == nil { state.first = now }
            state.last = now
        }
    }

    func figures(expected: Int) -> [(key: String, value: String)] {
        self.state.withLock { state in
            let sorted = state.latencies.sorted()
            func percentile(_ p: Double) -> String {
                guard !sorted.isEmpty else { return "0" }
                return String(format: "%.2f", Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]) / 1000)
            }
            var seconds = 0.0
            if let first = state.first, let last = state.last {
                let (s, atto) = (last - first).components
                seconds = Double(s) + Double(atto) / 1e18
            }
            return [
                ("delivered", String(sorted.count)), ("seconds", String(format: "%.3f", seconds)),
                ("per_second", String(format: "%.0f", seconds > 0 ? Double(sorted.count - 1) / seconds : 0)),
                ("queue_to_send_p50_ms", percentile(0.5)), ("queue_to_send_p99_ms", percentile(0.99)),
                ("queue_to_send_max_ms", percentile(1.0)),
            ]
        }
    }

    static func nowMicroseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1000
    }
}

/// The bench's sink: reads each request, records the timestamp carried in its payload, and
/// answers `200` with an empty body on the same keep-alive connection.
private final class SinkHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let recorder: DeliveryRecorder
    private static let marker = Array(#""Payload":""#.utf8)

    init(recorder: DeliveryRecorder) {
        self.recorder = recorder
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head:
            break
        case .body(let buffer):
            // The whole body fits in one part for these tiny requests; the stamp is in it.
            if let stamp = Self.stamp(in: buffer) { self.recorder.record(sentAtMicroseconds: stamp) }
        case .end:
            var head = HTTPResponseHead(version: .http1_1, status: .ok)
            head.headers.add(name: "Content-Length", value: "0")
            context.write(self.wrapOutboundOut(.head(head)), promise: nil)
            context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
        }
    }

    private static func stamp(in buffer: ByteBuffer) -> Int64? {
        buffer.withUnsafeReadableBytes { bytes -> Int64? in
            guard bytes.count > Self.marker.count else { return nil }
            var index = 0
            while index + Self.marker.count < bytes.count {
                if bytes[index] == Self.marker[0] && Array(bytes[index..<(index + Self.marker.count)]) == Self.marker {
                    var value: Int64 = 0
                    var cursor = index + Self.marker.count
                    while cursor < bytes.count, bytes[cursor] >= 0x30, bytes[cursor] <= 0x39 {
                        value = value * 10 + Int64(bytes[cursor] - 0x30)
                        cursor += 1
                    }
                    return value
                }
                index += 1
            }
            return nil
        }
    }
}
