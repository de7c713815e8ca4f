import ArgumentParser
import Foundation
import IoTSocket
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A fast keep-alive HTTP sink for the concentrator's webhooks, for benchmarks and by hand.
///
/// `POST …/request` (a request webhook) is answered `200 {"Code":0,"Payload":…,"Format":…}`
/// echoing the request's payload, so devices get their request back as the response; any other
/// POST (telemetry webhooks) is answered `200` with an empty body. Counts are printed every
/// `--report` seconds and when it stops (after `--seconds`, or on SIGINT/SIGTERM).
struct WebhookSinkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "webhook-sink",
        abstract: "A fast HTTP sink answering request webhooks (echo) and telemetry webhooks (200)."
    )

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on.") var port = 8090
    @Option(help: "Stop after this many seconds (0: run until interrupted).") var seconds = 0
    @Option(help: "Seconds between progress lines (0: none).") var report = 5

    func run() async throws {
        let counts = SinkCounts()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(WebhookSinkHandler(counts: counts))
                }
            }
            .bind(host: self.host, port: self.port).get()
        print("webhook-sink listening on http://\(self.host):\(self.port) (POST …/request echoes, other POSTs get 200)")
        let start = ContinuousClock.now
        let signals = Mutex(false)
        for signal in [SIGINT, SIGTERM] {
            let source = DispatchSource.makeSignalSource(signal: signal, queue: .global())
            Foundation.signal(signal, SIG_IGN)
            source.setEventHandler { signals.withLock { $0 = true } }
            source.resume()
        }
        var lastReport = start
        while !signals.withLock({ $0 }) {
            if self.seconds > 0 && ContinuousClock.now - start >= .seconds(self.seconds) { break }
            try await Task.sleep(for: .milliseconds(200))
            if self.report > 0 && ContinuousClock.now - lastReport >= .seconds(self.report) {
                lastReport = ContinuousClock.now
                let (requests, telemetry) = counts.snapshot
                print("requests=\(requests) telemetry=\(telemetry)")
            }
        }
        try await channel.close()
        let (requests, telemetry) = counts.snapshot
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        BenchmarkReport(
            name: "webhook-sink",
            figures: [
                ("seconds", String(format: "%.1f", seconds)), ("request_webhooks", String(requests)),
                ("telemetry_webhooks", String(telemetry)),
            ]
        ).print()
    }
}

/// What the sink has answered so far (handlers on every event loop add to it).
final class SinkCounts: Sendable {
    private let counts = Mutex((requests: 0, telemetry: 0))

    func add(request: Bool) {
        self.counts.withLock { request ? ($0.requests += 1) : ($0.telemetry += 1) }
    }

    var snapshot: (Int, Int) { self.counts.withLock { ($0.requests, $0.telemetry) } }
}

/// One connection of the sink: collects a request's body and answers it.
final class WebhookSinkHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let counts: SinkCounts
    private var isRequestWebhook = false
    private var body = ByteBuffer()

    init(counts: SinkCounts) {
        self.counts = counts
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.isRequestWebhook = head.uri.hasSuffix("/request")
            self.body.clear()
        case .body(var part):
            self.body.writeBuffer(&part)
        case .end:
            var answer = ByteBuffer()
            if self.isRequestWebhook {
                // Echo the device's payload as the central's answer.
                let request = try? JSONValue(parsing: self.body)
                JSONValue(object: [
                    ("Code", JSONValue(0)), ("Payload", request?["Payload"] ?? .array([])),
                    ("Format", request?["Format"] ?? .string("BINARY")),
                ]).write(to: &answer)
            }
            self.counts.add(request: self.isRequestWebhook)
            var head = HTTPResponseHead(version: .http1_1, status: .ok)
            head.headers.add(name: "Content-Length", value: String(answer.readableBytes))
            if answer.readableBytes > 0 {
                head.headers.add(name: "Content-Type", value: "application/json")
            }
            context.write(self.wrapOutboundOut(.head(head)), promise: nil)
            if answer.readableBytes > 0 {
                context.write(self.wrapOutboundOut(.body(.byteBuffer(answer))), promise: nil)
            }
            context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}
