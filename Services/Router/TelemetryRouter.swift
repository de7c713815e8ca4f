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
/// object's UID); a batch is one script call, its frames packed into few stream entries. While
/// the central's session is kept, records are held and replayed when it returns (within the
/// keep delay); with no central session at all they go to the telemetry webhook when one is
/// configured, else they are counted as undeliverable. A batch is routed in one pipeline in
/// stream order, so order per device is kept. An entry may pack several records (see
/// ``TelemetryRecord``); they are taken in order.
struct TelemetryRouter: Service {
    let runtime: ServiceRuntime
    let router: MessageRouter
    let pipeline: CallPipeline
    /// Reads only while this instance leads (``RouterLeadership``).
    let turn: any ConsumerTurn

    private let delivered = Counter(label: "iots_router_telemetry_total", dimensions: [("outcome", "delivered")])
    private let held = Counter(label: "iots_router_telemetry_total", dimensions: [("outcome", "held")])
    private let toWebhook = Counter(label: "iots_router_telemetry_total", dimensions: [("outcome", "webhook")])
    private let undeliverable = Counter(label: "iots_router_telemetry_total", dimensions: [("outcome", "undeliverable")])
    private let malformed = Counter(label: "iots_router_telemetry_total", dimensions: [("outcome", "malformed")])
    /// From the datagram's arrival at udp-telemetry to the router's delivery step.
    private let latency = Metrics.Timer(label: "iots_router_telemetry_latency_seconds")

    init(runtime: ServiceRuntime, router: MessageRouter, pipeline: CallPipeline, turn: any ConsumerTurn) {
        self.runtime = runtime
        self.router = router
        self.pipeline = pipeline
        self.turn = turn
    }

    func run() async throws {
        let consumer = StreamConsumer(
            client: self.runtime.redis,
            configuration: .init(
                stream: self.runtime.keys.telemetryStream,
                group: "router",
                consumer: self.runtime.instanceID,
                startID: "0",
                // Entries pack up to TelemetryRecord.maxPerEntry records: at most 8 192 frames
                // per script call, so one call never holds Redis for long.
                batchSize: 128,
                block: .milliseconds(500),
                reclaimAfter: .seconds(30)
            ),
            logger: self.runtime.logger,
            turn: self.turn
        ) { entries in
            try await self.route(entries)
        }
        await cancelWhenGracefulShutdown {
            await consumer.run()
        }
    }

    /// Routes one batch in one script call; every entry is handled (malformed ones are counted
    /// and skipped). Records the central could not take go to the telemetry webhook when one is
    /// configured, in order, else they are counted as undeliverable.
    func route(_ entries: [StreamEntry]) async throws -> [String] {
        let now = WallClock.milliseconds()
        var records: [TelemetryRecord] = []
        records.reserveCapacity(entries.count)
        for entry in entries {
            guard let packed = try? TelemetryRecord.records(in: entry) else {
                self.malformed.increment()
                continue
            }
            for record in packed where record.receivedAtMilliseconds > 0 {
                self.latency.recordMilliseconds(max(0, now - record.receivedAtMilliseconds))
            }
            records.append(contentsOf: packed)
        }
        guard !records.isEmpty else { return entries.map(\.id) }
        let keys = self.runtime.keys
        let settings = self.router.settings
        var arguments: [RedisArgument] = [
            .string(keys.prefix), .integer(settings.streamMaxLength),
            // With a telemetry webhook, a kept central is "no central session": hold nothing.
            .integer(settings.telemetryWebhook ? 0 : settings.maxHeldTelemetry),
        ]
        arguments.reserveCapacity(3 + records.count)
        for record in records {
            arguments.append(.bytes(MessageRouter.frame(.identifiedTelemetry(uid: record.uid, payload: record.payload))))
        }
        let batch = records
        let call = PlannedCall.script(RouterScripts.deliverBatch, keys: [keys.session(.central), keys.held(.central)], arguments: arguments) {
            reply in
            guard let items = reply.array, items.count == 3, let placed = items[1].int else { return [] }
            switch items[0].string {
            case "sent": self.delivered.increment(by: Int64(placed))
            case "held": self.held.increment(by: Int64(placed))
            default: break
            }
            let refused = batch.dropFirst(placed)
            guard !refused.isEmpty else { return [] }
            guard settings.telemetryWebhook, items[0].string != "sent" else {
                self.undeliverable.increment(by: Int64(refused.count))
                return []
            }
            self.toWebhook.increment(by: Int64(refused.count))
            return refused.map { record in
                var command: [RedisArgument] = ["XADD", .string(keys.webhookTelemetry), "MAXLEN", "~", .integer(settings.streamMaxLength), "*"]
                for field in WebhookJob.telemetry(uid: record.uid, payload: record.payload, receivedAtMilliseconds: record.receivedAtMilliseconds).fields {
                    command.append(.string(field.name))
                    command.append(field.value)
                }
                return PlannedCall(command)
            }
        }
        try await self.pipeline.execute([call]).get()
        return entries.map(\.id)
    }
}
