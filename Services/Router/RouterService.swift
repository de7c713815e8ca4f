import IoTSocket
import Logging
import Messaging
import NIOCore
import RedisBus
import ServiceKit
import ServiceLifecycle
import Synchronization

/// Consumes the router stream in the `router` consumer group and routes each batch.
///
/// Messages of a batch are planned in order and sent as one pipeline, and only the leading
/// router reads (``RouterLeadership``), so the order of what each element sent is kept.
/// Two batches are in hand at once: the next one is read while Redis runs the scripts of the
/// last, and its calls are written after that batch's on the same connection, so Redis runs
/// them in stream order. An ACL change is a barrier: its batch starts once the previous one
/// is finished, and the next batch once it is. Entries are acknowledged once their routing
/// steps ran; if Redis fails mid-batch the batch is not acknowledged and is taken over again
/// after `reclaimAfter` (delivery is at least once).
struct RouterService: Service {
    let runtime: ServiceRuntime
    let router: MessageRouter
    let pipeline: CallPipeline
    let aclStore: ACLStore
    /// The reference ACL file to seed an empty Redis with, already validated.
    let seedACL: (path: String, entries: [ACLEntry])?
    /// Reads only while this instance leads (``RouterLeadership``).
    let turn: any ConsumerTurn
    /// The last batch handed over, for the next one to wait for when it must.
    let lastBatch = LastBatch()

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
                reclaimAfter: .seconds(30),
                batchesInFlight: 2
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
        let barrier = steps.count > 1  // an ACL step is in it (the last step is always calls)
        var (done, waits) = self.lastBatch.start(barrier: barrier, on: eventLoop)
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
        self.lastBatch.handedOver(done, mustBeWaitedFor: barrier || waits)
        return done.map {
            self.router.metrics.batchDuration.recordNanoseconds((ContinuousClock.now - start).wholeNanoseconds)
            return entries.map(\.id)
        }
    }

    /// The batch the router handed over last (``handle(_:)`` runs on the Redis client's loop,
    /// one batch at a time).
    final class LastBatch: Sendable {
        private struct Last {
            var done: EventLoopFuture<Void>
            /// It holds an ACL change, or its calls were not written at once.
            var mustBeWaitedFor: Bool
        }

        private let last = Mutex<Last?>(nil)

        /// Where a batch's steps start: at once, or (`waits`) once the last batch is finished
        /// when either holds an ACL change or the last one is itself still waiting to start.
        func start(barrier: Bool, on eventLoop: any EventLoop) -> (EventLoopFuture<Void>, waits: Bool) {
            guard let last = self.last.withLock({ $0 }), barrier || last.mustBeWaitedFor else {
                return (eventLoop.makeSucceededVoidFuture(), false)
            }
            // Its failure is its own (its entries stay pending); this batch goes on after it.
            return (last.done.hop(to: eventLoop).recover { _ in }, true)
        }

        func handedOver(_ done: EventLoopFuture<Void>, mustBeWaitedFor: Bool) {
            self.last.withLock { $0 = Last(done: done, mustBeWaitedFor: mustBeWaitedFor) }
            guard mustBeWaitedFor else { return }
            // Once it is finished there is nothing to wait for: the batches after it overlap
            // again (otherwise one ACL change would chain every later batch to the one before).
            done.whenComplete { _ in
                self.last.withLock { last in
                    if last?.done === done { last?.mustBeWaitedFor = false }
                }
            }
        }
    }

    private static func acl(in frame: [UInt8]) -> [ACLEntry]? {
        guard let header = frame.first, header >> 4 == TransmissionType.acl.rawValue else { return nil }
        var buffer = ByteBuffer(bytes: frame)
        guard case .acl(let entries)? = try? Transmission.read(from: &buffer) else { return nil }
        return entries
    }
}
