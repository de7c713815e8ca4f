import IoTSocket
import Logging
import Messaging
import NIOCore
import RedisBus
import ServiceKit
import ServiceLifecycle

/// Consumes the router stream in the `router` consumer group and routes each batch.
///
/// Messages of a batch are planned in order and sent as one pipeline, and only the leading
/// router reads (``RouterLeadership``), so the order of what each element sent is kept. Entries are acknowledged once their routing steps ran;
/// if Redis fails mid-batch the batch is not acknowledged and is taken over again after
/// `reclaimAfter` (delivery is at least once).
struct RouterService: Service {
    let runtime: ServiceRuntime
    let router: MessageRouter
    let pipeline: CallPipeline
    let aclStore: ACLStore
    /// The reference ACL file to seed an empty Redis with, already validated.
    let seedACL: (path: String, entries: [ACLEntry])?
    /// Reads only while this instance leads (``RouterLeadership``).
    let turn: any ConsumerTurn

    func run() async throws {
        let logger = self.runtime.logger
        try await self.prepare()
        let consumer = StreamConsumer(
            client: self.runtime.redis,
            configuration: .init(
                stream: self.runtime.keys.routerStream,
                group: "router",
                consumer: self.runtime.instanceID,
                startID: "0",
                batchSize: 256,
                block: .milliseconds(500),
                reclaimAfter: .seconds(30)
            ),
            logger: logger,
            turn: self.turn,
            onEventLoop: { entries in
                self.handle(entries)
            }
        )
        // Graceful shutdown cancels the consumer, which finishes and acknowledges its batch first.
        await cancelWhenGracefulShutdown {
            await consumer.run()
        }
    }

    /// Loads the scripts and seeds the ACL, retrying while Redis is unreachable.
    private func prepare() async throws {
        var delay = Duration.milliseconds(100)
        while true {
            do {
                try await self.pipeline.loadScripts()
                if let seed = self.seedACL {
                    try await self.aclStore.seedIfEmpty(with: seed.entries, source: seed.path)
                }
                return
            } catch {
                self.runtime.logger.warning("router not started yet: Redis", metadata: ["error": "\(error)"])
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
            }
        }
    }

    /// Routes one batch; returns the IDs of the entries handled (all of them, malformed ones
    /// included: retrying would never make them valid).
    /// One step of a batch, in stream order.
    private enum Step {
        case calls([PlannedCall])
        case replaceACL([ACLEntry])
        case applyACL(ACLUpdate)
    }

    /// Routes a batch: plans every message, then runs the plans as pipelines on the Redis
    /// client's event loop (see ``CallPipeline/execute(_:)``). Returns every ID: a malformed
    /// entry is counted and dropped, not retried.
    func handle(_ entries: [StreamEntry]) -> EventLoopFuture<[String]> {
        let start = ContinuousClock.now
        let now = WallClock.milliseconds()
        var steps: [Step] = []
        var calls: [PlannedCall] = []
        for entry in entries {
            self.router.metrics.messages.increment()
            let message: RouterMessage
            do {
                message = try RouterMessage(entry: entry)
            } catch {
                self.router.metrics.malformed.increment()
                self.runtime.logger.error("malformed router message", metadata: ["error": "\(error)"])
                continue
            }
            // An ACL change must see every earlier step applied, and later ones must see it.
            if case .transmission(let address, let frame) = message, address.uid.isCentral, let entries = Self.acl(in: frame) {
                steps.append(.calls(calls))
                calls = []
                steps.append(.replaceACL(entries))
                continue
            }
            if case .aclUpdate(let update) = message {
                steps.append(.calls(calls))
                calls = []
                steps.append(.applyACL(update))
                continue
            }
            calls += self.router.plan(message, now: now)
        }
        steps.append(.calls(calls))
        let eventLoop = self.runtime.redis.eventLoop
        var done = eventLoop.makeSucceededVoidFuture()
        for step in steps {
            done = done.flatMap {
                switch step {
                case .calls(let calls):
                    return self.pipeline.execute(calls)
                case .replaceACL(let entries):
                    return eventLoop.makeFutureWithTask { try await self.aclStore.replace(with: entries) }
                case .applyACL(let update):
                    return eventLoop.makeFutureWithTask { try await self.aclStore.apply(update) }
                }
            }
        }
        return done.map {
            self.router.metrics.batchDuration.recordNanoseconds((ContinuousClock.now - start).wholeNanoseconds)
            return entries.map(\.id)
        }
    }

    private static func acl(in frame: [UInt8]) -> [ACLEntry]? {
        guard let header = frame.first, header >> 4 == TransmissionType.acl.rawValue else { return nil }
        var buffer = ByteBuffer(bytes: frame)
        guard case .acl(let entries)? = try? Transmission.read(from: &buffer) else { return nil }
        return entries
    }
}
