import IoTSocket
import Logging
import Messaging
import Metrics
import RedisBus
import ServiceKit
import ServiceLifecycle

/// Routes accepted telemetry (`iots:telemetry`, group `router`) to the central.
///
/// Each record goes to the central's TCP session as identified telemetry (ToT 0x6 with the
/// object's UID). While the central's session is kept, records are held and replayed when it
/// returns (within the keep delay); with no central session at all they go to the telemetry
/// webhook when one is configured, else they are counted as undeliverable. A batch is routed in
/// one pipeline in stream order, so order per device is kept.
struct TelemetryRouter: Service {
    let runtime: ServiceRuntime
    let router: MessageRouter
    let pipeline: CallPipeline

    private let delivered = Counter(label: "iots_router_telemetry_total", dimensions: [("outcome", "delivered")])
    private let held = Counter(label: "iots_router_telemetry_total", dimensions: [("outcome", "held")])
    private let toWebhook = Counter(label: "iots_router_telemetry_total", dimensions: [("outcome", "webhook")])
    private let undeliverable = Counter(label: "iots_router_telemetry_total", dimensions: [("outcome", "undeliverable")])
    private let malformed = Counter(label: "iots_router_telemetry_total", dimensions: [("outcome", "malformed")])
    /// From the datagram's arrival at udp-telemetry to the router's delivery step.
    private let latency = Metrics.Timer(label: "iots_router_telemetry_latency_seconds")

    init(runtime: ServiceRuntime, router: MessageRouter, pipeline: CallPipeline) {
        self.runtime = runtime
        self.router = router
        self.pipeline = pipeline
    }

    func run() async throws {
        let consumer = StreamConsumer(
            client: self.runtime.redis,
            configuration: .init(
                stream: self.runtime.keys.telemetryStream,
                group: "router",
                consumer: self.runtime.instanceID,
                startID: "0",
                batchSize: 512,
                block: .milliseconds(500),
                reclaimAfter: .seconds(30)
            ),
            logger: self.runtime.logger
        ) { entries in
            try await self.route(entries)
        }
        await cancelWhenGracefulShutdown {
            await consumer.run()
        }
    }

    /// Routes one batch; every entry is handled (malformed ones are counted and skipped).
    func route(_ entries: [StreamEntry]) async throws -> [String] {
        let now = WallClock.milliseconds()
        var calls: [PlannedCall] = []
        calls.reserveCapacity(entries.count)
        for entry in entries {
            guard let record = try? TelemetryRecord(entry: entry) else {
                self.malformed.increment()
                continue
            }
            if record.receivedAtMilliseconds > 0 {
                self.latency.recordMilliseconds(max(0, now - record.receivedAtMilliseconds))
            }
            let frame = MessageRouter.frame(.identifiedTelemetry(uid: record.uid, payload: record.payload))
            calls.append(
                .script(
                    RouterScripts.deliver,
                    keys: [self.runtime.keys.session(.central), self.runtime.keys.held(.central)],
                    arguments: [
                        .string(self.runtime.keys.prefix), .integer(self.router.settings.streamMaxLength),
                        // With a telemetry webhook, a kept central is "no central session": hold nothing.
                        .integer(self.router.settings.telemetryWebhook ? 0 : self.router.settings.maxHeldTelemetry), .bytes(frame),
                    ]
                ) { reply in
                    switch reply.string {
                    case "sent": self.delivered.increment()
                    case "held": self.held.increment()
                    case "absent" where self.router.settings.telemetryWebhook, "full" where self.router.settings.telemetryWebhook:
                        self.toWebhook.increment()
                        let job = WebhookJob.telemetry(
                            uid: record.uid, payload: record.payload, receivedAtMilliseconds: record.receivedAtMilliseconds)
                        var command: [RedisArgument] = [
                            "XADD", .string(self.runtime.keys.webhookTelemetry), "MAXLEN", "~",
                            .integer(self.router.settings.streamMaxLength), "*",
                        ]
                        for field in job.fields {
                            command.append(.string(field.name))
                            command.append(field.value)
                        }
                        return [PlannedCall(command)]
                    default: self.undeliverable.increment()
                    }
                    return []
                })
        }
        try await self.pipeline.execute(calls)
        return entries.map(\.id)
    }
}
