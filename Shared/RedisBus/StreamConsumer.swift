import Logging
import NIOCore
import Synchronization

/// A consumer-group loop: reads a shared stream in batches on its own blocking connection,
/// hands each batch to a handler and acknowledges exactly the entries the handler says it
/// finished.
///
/// What it takes care of:
/// - creates the group (`MKSTREAM`) at start, and again on `NOGROUP` (Redis restarted empty or
///   the group was deleted) without manual steps;
/// - reads with `XREADGROUP … BLOCK` on a dedicated connection (never stalls the shared client),
///   reconnecting with ``ReconnectBackoff`` and logging each attempt;
/// - every ``Configuration-swift.struct/reclaimInterval`` takes over entries pending longer
///   than ``Configuration-swift.struct/reclaimAfter`` (`XAUTOCLAIM`) — its own or a crashed
///   instance's — and hands them to the same handler;
/// - acknowledgements travel in one write with the next read (one round trip per batch);
///   those that could not be sent (connection lost) are retried after reconnecting.
///
/// With a ``ConsumerTurn``, it reads only while its instance holds the turn, leaves pending a
/// batch read just after the turn was lost, and on gaining the turn first takes over what the
/// previous holder left pending (see ``ConsumerTurn/takeoverAfter``).
///
/// A handler given with `onEventLoop:` returns a future instead of being async: the consumer's
/// connection is then opened on the client's event loop, and reading, handling and
/// acknowledging follow one another there as future callbacks, leaving the loop only to wait
/// for a turn or to reclaim. The router consumes this way: an async handler costs a hop to
/// Swift Concurrency's pool and back for every Redis reply it awaits.
///
/// With ``Configuration-swift.struct/batchesInFlight`` above 1 (event-loop handlers only), the
/// next batch is read and handed over while the futures of earlier ones are still pending, up
/// to that many at once: reading overlaps with the handler's Redis work. The handler is still
/// called one batch at a time, in stream order; ordering its effects across batches is its
/// part (the router writes each batch's calls before returning, on one connection). Entries
/// are acknowledged once their own batch's future succeeds, whatever the others do. A reclaim,
/// a takeover and stopping first wait for the batches in flight.
///
/// The handler is never called concurrently with itself. Entries it does not return stay
/// pending and come back through reclaim after `reclaimAfter`, so it must be idempotent
/// (delivery is at least once).
///
/// Stopping: cancel the task running ``run()``. A read in progress is allowed to end (at most
/// ``Configuration-swift.struct/block``), the batch in hand is handed over and acknowledged,
/// then `run()` returns. The handler runs in that cancelled task, so its own awaits may see
/// the cancellation: it should return the IDs it did finish.
public struct StreamConsumer: Sendable {
    /// Which stream and group to consume, and the loop's pace.
    public struct Configuration: Sendable {
        /// The stream key.
        public var stream: String
        /// The consumer group.
        public var group: String
        /// This consumer's name, unique per instance and stable across its restarts.
        public var consumer: String
        /// Where a newly created group starts: `0` (default) delivers what the stream already
        /// holds, `$` only what arrives afterwards. Also used when recreating on `NOGROUP`.
        public var startID: String
        /// The most entries per handler call.
        public var batchSize: Int
        /// How long one read waits for entries; also bounds how long stopping takes.
        public var block: Duration
        /// How long an entry must stay unacknowledged before it is taken over; longer than the
        /// handler can take, or work still running would be delivered twice.
        public var reclaimAfter: Duration
        /// How often to look for entries to take over.
        public var reclaimInterval: Duration
        /// Spacing of reconnect attempts.
        public var reconnect: ReconnectBackoff
        /// Batches handed to an event-loop handler whose futures may be pending at once; 1
        /// (default) reads the next batch only once the last one is finished.
        public var batchesInFlight: Int

        /// - Parameters:
        ///   - stream: The stream key.
        ///   - group: The consumer group.
        ///   - consumer: This instance's consumer name.
        ///   - startID: Start of a new group, `0` by default.
        ///   - batchSize: Entries per batch, 128 by default.
        ///   - block: Read wait, 1 s by default.
        ///   - reclaimAfter: Idle time before takeover, 60 s by default.
        ///   - reclaimInterval: Takeover check period; half of `reclaimAfter` by default.
        ///   - reconnect: Backoff between reconnect attempts.
        ///   - batchesInFlight: Event-loop handler batches pending at once, 1 by default.
        public init(
            stream: String,
            group: String,
            consumer: String,
            startID: String = "0",
            batchSize: Int = 128,
            block: Duration = .seconds(1),
            reclaimAfter: Duration = .seconds(60),
            reclaimInterval: Duration? = nil,
            reconnect: ReconnectBackoff = ReconnectBackoff(),
            batchesInFlight: Int = 1
        ) {
            self.stream = stream
            self.group = group
            self.consumer = consumer
            self.startID = startID
            self.batchSize = max(1, batchSize)
            self.block = block
            self.reclaimAfter = reclaimAfter
            self.reclaimInterval = reclaimInterval ?? reclaimAfter / 2
            self.reconnect = reconnect
            self.batchesInFlight = max(1, batchesInFlight)
        }
    }

    /// Receives a batch (new or reclaimed entries, oldest first) and returns the IDs it
    /// finished; only those are acknowledged. Throwing acknowledges nothing.
    public typealias Handler = @Sendable (_ entries: [StreamEntry]) async throws -> [String]
    /// ``Handler`` for the event-loop mode: called on the client's event loop (it must not
    /// block), its future gives the IDs it finished; a failed future acknowledges nothing.
    public typealias LoopHandler = @Sendable (_ entries: [StreamEntry]) -> EventLoopFuture<[String]>

    private enum Delivery: Sendable {
        case task(Handler)
        case eventLoop(LoopHandler)
    }

    /// The configuration in force.
    public let configuration: Configuration
    private let client: RedisClient
    private let logger: Logger
    private let turn: (any ConsumerTurn)?
    private let delivery: Delivery

    /// - Parameters:
    ///   - client: Supplies the server address and limits; the consumer opens its own
    ///     connection with ``RedisClient/makeBlockingConnection()``.
    ///   - configuration: Stream, group, consumer and pace.
    ///   - logger: Where to log; the client's logger by default.
    ///   - turn: When given, reads happen only while this instance holds the turn.
    ///   - handler: Processes each batch.
    public init(
        client: RedisClient, configuration: Configuration, logger: Logger? = nil, turn: (any ConsumerTurn)? = nil,
        handler: @escaping Handler
    ) {
        self.client = client
        self.configuration = configuration
        self.logger = logger ?? client.logger
        self.turn = turn
        self.delivery = .task(handler)
    }

    /// A consumer whose handler runs on the client's event loop (see the type's documentation).
    ///
    /// - Parameters:
    ///   - client: Supplies the server address and limits, and the event loop.
    ///   - configuration: Stream, group, consumer and pace.
    ///   - logger: Where to log; the client's logger by default.
    ///   - turn: When given, reads happen only while this instance holds the turn.
    ///   - handler: Processes each batch on the event loop; must not block.
    public init(
        client: RedisClient, configuration: Configuration, logger: Logger? = nil, turn: (any ConsumerTurn)? = nil,
        onEventLoop handler: @escaping LoopHandler
    ) {
        self.client = client
        self.configuration = configuration
        self.logger = logger ?? client.logger
        self.turn = turn
        self.delivery = .eventLoop(handler)
    }

    /// Consumes until the task is cancelled (see the type's documentation for how it stops).
    public func run() async {
        var loop = ConsumerLoopState()
        let metadata: Logger.Metadata = [
            "stream": "\(self.configuration.stream)",
            "group": "\(self.configuration.group)",
            "consumer": "\(self.configuration.consumer)",
        ]
        self.logger.info("stream consumer started", metadata: metadata)
        var term: Int?
        var secondTakeover: ContinuousClock.Instant?
        while !Task.isCancelled {
            var takeOver = false
            if let turn = self.turn {
                guard let current = await turn.waitForTurn() else { break }
                if current != term {
                    term = current
                    takeOver = true
                    secondTakeover = .now + turn.takeoverAfter
                } else if let due = secondTakeover, due <= .now {
                    takeOver = true
                    secondTakeover = nil
                }
            }
            do {
                let connection = try await loop.connection(from: self.client, onClientLoop: self.onEventLoop)
                if !loop.groupReady {
                    let created = try await connection.createGroup(
                        self.configuration.stream,
                        group: self.configuration.group,
                        startID: self.configuration.startID,
                        makeStream: true
                    )
                    if created { self.logger.info("consumer group created", metadata: metadata) }
                    loop.groupReady = true
                }
                if loop.failures > 0 {
                    self.logger.info("stream consumer reconnected", metadata: metadata.merging(["failedAttempts": "\(loop.failures)"]) { $1 })
                    loop.failures = 0
                }
                if takeOver, let turn = self.turn {
                    try await self.acknowledge(&loop.unacknowledged, on: connection)
                    self.logger.info("consumer turn held; taking over what was left pending", metadata: metadata)
                    try await self.reclaim(on: connection, unacknowledged: &loop.unacknowledged, minIdle: turn.takeoverAfter)
                    loop.reclaimed()
                } else if loop.reclaimDue(every: self.configuration.reclaimInterval) {
                    try await self.acknowledge(&loop.unacknowledged, on: connection)
                    try await self.reclaim(on: connection, unacknowledged: &loop.unacknowledged, minIdle: self.configuration.reclaimAfter)
                    loop.reclaimed()
                }
                guard !Task.isCancelled else { break }
                if case .eventLoop(let handler) = self.delivery {
                    // Until a reclaim or the second takeover is due, the turn is lost or the task
                    // is cancelled.
                    var until = loop.nextReclaim(every: self.configuration.reclaimInterval)
                    if let due = secondTakeover { until = min(until, due) }
                    let cursor = LoopCursor(unacknowledged: loop.unacknowledged)
                    defer { loop.unacknowledged = cursor.unacknowledged }
                    try await withTaskCancellationHandler {
                        try await self.follow(on: connection, cursor: cursor, term: term, until: until, handler: handler).get()
                    } onCancel: {
                        cursor.stop()
                    }
                    loop.missingGroupStreak = 0
                    continue
                }
                // The last batch's acknowledgement travels with the next read.
                let acknowledging = loop.unacknowledged
                let entries = try await connection.xackThenReadGroup(
                    self.configuration.stream,
                    group: self.configuration.group,
                    consumer: self.configuration.consumer,
                    acknowledging: acknowledging,
                    count: self.configuration.batchSize,
                    block: self.configuration.block
                )
                loop.unacknowledged.removeFirst(acknowledging.count)
                loop.missingGroupStreak = 0
                if let turn = self.turn, let term, !turn.holds(term: term) {
                    // Read just after the turn was lost: left pending for the next holder.
                    continue
                }
                if !entries.isEmpty {
                    try await self.deliver(entries, on: connection, unacknowledged: &loop.unacknowledged)
                }
            } catch let error as RedisError where error.isNoGroup {
                self.logger.warning("consumer group missing, recreating it", metadata: metadata.merging(["error": "\(error)"]) { $1 })
                loop.groupReady = false
                // Entries acknowledged against the old group are gone with it.
                loop.unacknowledged.removeAll()
                loop.missingGroupStreak += 1
                if loop.missingGroupStreak > 1 {
                    // The group keeps vanishing (someone deleting it?): do not spin.
                    let delay = self.configuration.reconnect.delay(afterFailures: loop.missingGroupStreak - 1)
                    do {
                        try await Task.sleep(for: delay)
                    } catch {
                        break
                    }
                }
            } catch {
                if takeOver {
                    term = nil  // the takeover did not happen: try it again
                }
                loop.failures += 1
                await loop.dropConnection()
                let delay = self.configuration.reconnect.delay(afterFailures: loop.failures)
                self.logger.warning(
                    "stream consumer failed, retrying",
                    metadata: metadata.merging(["attempt": "\(loop.failures)", "retryInMs": "\(delay.wholeMilliseconds)", "error": "\(error)"]) { $1 }
                )
                do {
                    try await Task.sleep(for: delay)
                } catch {
                    break
                }
            }
        }
        if !loop.unacknowledged.isEmpty, let connection = loop.activeConnection {
            try? await self.acknowledge(&loop.unacknowledged, on: connection)
        }
        await loop.dropConnection()
        self.logger.info("stream consumer stopped", metadata: metadata)
    }

    /// Whether the handler runs on the client's event loop (its connection opens there).
    private var onEventLoop: Bool {
        if case .eventLoop = self.delivery { return true }
        return false
    }

    /// Hands entries to the handler and adds what it returns to `unacknowledged`, which goes
    /// out with the next read. Handler failures are logged and leave the entries pending.
    private func deliver(_ entries: [StreamEntry], on connection: RedisConnection, unacknowledged: inout [String]) async throws {
        let finished: [String]
        do {
            switch self.delivery {
            case .task(let handler): finished = try await handler(entries)
            case .eventLoop(let handler): finished = try await handler(entries).get()
            }
        } catch {
            self.logger.error(
                "stream handler failed; entries stay pending",
                metadata: ["stream": "\(self.configuration.stream)", "entries": "\(entries.count)", "error": "\(error)"]
            )
            return
        }
        let delivered = Set(entries.lazy.map(\.id))
        unacknowledged += finished.filter { delivered.contains($0) }
    }

    private func acknowledge(_ ids: inout [String], on connection: RedisConnection) async throws {
        guard !ids.isEmpty else { return }
        try await connection.xack(self.configuration.stream, group: self.configuration.group, ids: ids)
        ids.removeAll()
    }

    /// Takes over entries idle longer than `minIdle`, a bounded number of pages per round so new
    /// entries are not starved.
    private func reclaim(on connection: RedisConnection, unacknowledged: inout [String], minIdle: Duration) async throws {
        var start = "0-0"
        for _ in 0..<8 {
            let claim = try await connection.xautoclaim(
                self.configuration.stream,
                group: self.configuration.group,
                consumer: self.configuration.consumer,
                minIdle: minIdle,
                start: start,
                count: self.configuration.batchSize
            )
            if !claim.deletedIDs.isEmpty {
                self.logger.warning(
                    "pending entries were trimmed before being handled",
                    metadata: ["stream": "\(self.configuration.stream)", "group": "\(self.configuration.group)", "count": "\(claim.deletedIDs.count)"]
                )
            }
            if !claim.entries.isEmpty {
                self.logger.info(
                    "reclaimed idle pending entries",
                    metadata: ["stream": "\(self.configuration.stream)", "group": "\(self.configuration.group)", "count": "\(claim.entries.count)"]
                )
                try await self.deliver(claim.entries, on: connection, unacknowledged: &unacknowledged)
            }
            start = claim.nextStart
            if claim.isComplete || Task.isCancelled { break }
        }
    }

    /// Event-loop mode: acknowledges, reads and hands over batch after batch as callbacks on
    /// the connection's loop. Succeeds when `cursor` is stopped, the turn of `term` is lost or
    /// `until` has passed; fails when Redis does (what is still to acknowledge stays in `cursor`).
    private func follow(
        on connection: RedisConnection, cursor: LoopCursor, term: Int?, until: ContinuousClock.Instant, handler: @escaping LoopHandler
    ) -> EventLoopFuture<Void> {
        let promise = connection.eventLoop.makePromise(of: Void.self)
        self.step(on: connection, cursor: cursor, term: term, until: until, handler: handler, promise: promise)
        return promise.futureResult
    }

    private func step(
        on connection: RedisConnection, cursor: LoopCursor, term: Int?, until: ContinuousClock.Instant, handler: @escaping LoopHandler,
        promise: EventLoopPromise<Void>
    ) {
        let turnLost: @Sendable () -> Bool = {
            guard let turn = self.turn, let term else { return false }
            return !turn.holds(term: term)
        }
        if cursor.isStopped || ContinuousClock.now >= until || turnLost() {
            // Batches still being handled finish first, so their acknowledgements are in the cursor.
            cursor.whenIdle { promise.succeed() }
            return
        }
        let acknowledging = cursor.unacknowledged
        let configuration = self.configuration
        let next: @Sendable () -> Void = { self.step(on: connection, cursor: cursor, term: term, until: until, handler: handler, promise: promise) }
        connection.xackThenReadGroupFuture(
            configuration.stream, group: configuration.group, consumer: configuration.consumer, acknowledging: acknowledging,
            count: configuration.batchSize, block: configuration.block
        ).whenComplete { result in
            let entries: [StreamEntry]
            switch result {
            case .failure(let error):
                cursor.whenIdle { promise.fail(error) }
                return
            case .success(let read):
                cursor.acknowledged(acknowledging.count)
                entries = read
            }
            // Read just after the turn was lost: left pending for the next holder.
            guard !entries.isEmpty, !turnLost() else {
                next()
                return
            }
            let readsOn = cursor.begin(limit: configuration.batchesInFlight)
            handler(entries).hop(to: connection.eventLoop).whenComplete { outcome in
                switch outcome {
                case .success(let finished):
                    let delivered = Set(entries.lazy.map(\.id))
                    cursor.finished(finished.filter { delivered.contains($0) })
                case .failure(let error):
                    self.logger.error(
                        "stream handler failed; entries stay pending",
                        metadata: ["stream": "\(configuration.stream)", "entries": "\(entries.count)", "error": "\(error)"]
                    )
                }
                // The reader waits for this batch when it could not go on without it.
                if let resume = cursor.end() { resume() }
            }
            if readsOn {
                next()
            } else {
                cursor.park(next, limit: configuration.batchesInFlight)
            }
        }
    }
}

/// What an event-loop consumer still has to acknowledge, how many batches its handler has in
/// hand, and whether it was asked to stop; shared by the loop's callbacks and the task that
/// waits for them.
private final class LoopCursor: Sendable {
    private struct State {
        var unacknowledged: [String]
        var stopped = false
        var inFlight = 0
        /// The next read, waiting for a batch to finish (in-flight limit reached).
        var parked: (@Sendable () -> Void)?
        /// Called once nothing is in flight (stopping).
        var idle: (@Sendable () -> Void)?
    }

    private let state: Mutex<State>

    init(unacknowledged: [String]) {
        self.state = Mutex(State(unacknowledged: unacknowledged))
    }

    var unacknowledged: [String] { self.state.withLock { $0.unacknowledged } }

    var isStopped: Bool { self.state.withLock { $0.stopped } }

    func acknowledged(_ count: Int) {
        self.state.withLock { $0.unacknowledged.removeFirst(count) }
    }

    func finished(_ ids: [String]) {
        self.state.withLock { $0.unacknowledged += ids }
    }

    func stop() {
        self.state.withLock { $0.stopped = true }
    }

    /// A batch goes to the handler; true when the next read may start before it finishes.
    func begin(limit: Int) -> Bool {
        self.state.withLock {
            $0.inFlight += 1
            return $0.inFlight < limit
        }
    }

    /// Waits with the next read until a batch finishes (see ``end()``), unless one already
    /// did (a handler whose future was complete when returned).
    func park(_ read: @escaping @Sendable () -> Void, limit: Int) {
        let now: (@Sendable () -> Void)? = self.state.withLock {
            if $0.inFlight >= limit && $0.parked == nil && $0.idle == nil {
                $0.parked = read
                return nil
            }
            return read
        }
        now?()
    }

    /// A batch is finished: returns what waited for it (the parked read, or the stop once no
    /// batch is left).
    func end() -> (@Sendable () -> Void)? {
        self.state.withLock {
            $0.inFlight -= 1
            if let read = $0.parked {
                $0.parked = nil
                return read
            }
            if $0.inFlight == 0, let idle = $0.idle {
                $0.idle = nil
                return idle
            }
            return nil
        }
    }

    /// Runs `body` once no batch is in flight (at once when none is).
    func whenIdle(_ body: @escaping @Sendable () -> Void) {
        let now: Bool = self.state.withLock {
            if $0.inFlight == 0 { return true }
            $0.idle = body
            return false
        }
        if now { body() }
    }
}
