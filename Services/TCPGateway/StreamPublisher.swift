import Logging
import NIOCore
import NIOPosix
import RedisBus
import ServiceLifecycle
import Synchronization

/// Appends what the sessions produce (router messages, lifecycle events) to Redis streams in
/// pipelined batches, in the order each connection produced them.
///
/// Handlers append to the ``Outbox`` of their own event loop: a connection lives on one loop,
/// so its entries are queued in the order it made them. The publisher runs on the event loop of
/// the shared Redis connection, with futures rather than a task: it takes everything queued on
/// every loop, sends it as one pipeline, and when the reply arrives sends what accumulated in
/// the meantime. An outbox going from empty to non-empty schedules that on the publisher's loop
/// (after the handlers of the current loop tick, so a burst of reads makes one batch). Nothing
/// else wakes a thread: a frame costs the socket's wake-ups and no hop through Swift
/// Concurrency's pool (which cost about four thread wake-ups per frame).
///
/// A failed batch is retried (backoff, up to 8 attempts: ≈ 6 s of backoff, ≈ 45 s with Redis down,
/// each attempt waiting up to 5 s for a connection) before anything newer is sent, so order
/// survives a Redis reconnect; after the last attempt it is dropped and counted. An entry
/// may carry what to do when it is dropped (a request is then answered 0xA0 by its session: it
/// never reached the router, so nothing else would answer it).
///
/// Shutdown: started first, so the service group stops it last; by then the server has closed
/// every connection, and ``run()`` returns once their session-closed events are sent, or after
/// `drainLimit` (10 s) when Redis cannot take them.
final class StreamPublisher: Service, Sendable {
    /// Where the handlers of one event loop queue their entries.
    struct Outbox: Sendable {
        fileprivate let queue: Queue
        fileprivate let publisher: StreamPublisher

        /// Queues one XADD. Drops it (counted, `dropped` called at once) when Redis has fallen so
        /// far behind that the queue holds its capacity: memory stays bounded.
        /// - Parameter dropped: called if the entry never reaches Redis, on whichever loop finds
        ///   out (this one, or the publisher's after the last retry or at shutdown).
        func append(_ entry: StreamAppend, dropped: (@Sendable () -> Void)? = nil) {
            switch self.queue.append(Pending(append: entry, dropped: dropped)) {
            case .first:
                self.publisher.schedule()
            case .queued:
                break
            case .full:
                self.publisher.metrics.publishDropped.increment()
                dropped?()
            }
        }
    }

    /// An entry and what to do should it be dropped.
    fileprivate struct Pending: Sendable {
        var append: StreamAppend
        var dropped: (@Sendable () -> Void)?
    }

    /// The entries of one event loop, taken by the publisher from its own loop.
    fileprivate final class Queue: Sendable {
        enum Outcome { case first, queued, full }

        private let pending = Mutex<[Pending]>([])
        private let capacity: Int

        init(capacity: Int) {
            self.capacity = capacity
        }

        func append(_ entry: Pending) -> Outcome {
            self.pending.withLock { pending in
                guard pending.count < self.capacity else { return .full }
                pending.append(entry)
                return pending.count == 1 ? .first : .queued
            }
        }

        func takeAll() -> [Pending] {
            self.pending.withLock { pending in
                defer { pending = [] }
                return pending
            }
        }

        var isEmpty: Bool {
            self.pending.withLock { $0.isEmpty }
        }
    }

    /// The publisher's state, on its event loop only.
    private struct State {
        /// A batch is on its way to Redis or waiting for a retry.
        var sending = false
        /// Set when the service is cancelled: batches that fail are dropped instead of retried.
        var cancelled = false
        /// Completed once nothing is queued or sending (see ``drained()``).
        var drainWaiters: [EventLoopPromise<Void>] = []
    }

    private let queues: EventLoopShards<Queue>
    private let redis: RedisClient
    fileprivate let metrics: GatewayMetrics
    private let logger: Logger
    private let state: NIOLoopBoundBox<State>
    private let batchLimit = 1024
    private let retryLimit = 8
    private let backoff = ReconnectBackoff()
    /// How long shutdown waits for the last entries to reach Redis.
    private let drainLimit: Duration

    /// - Parameters:
    ///   - group: The loops the connections run on: one outbox each.
    ///   - redis: The client whose shared connection carries the appends; the publisher runs on
    ///     its event loop.
    ///   - capacity: The most entries one loop's outbox holds while Redis is unreachable.
    ///   - drainLimit: How long shutdown waits for the last entries to reach Redis.
    init(
        group: MultiThreadedEventLoopGroup, redis: RedisClient, capacity: Int = 100_000, drainLimit: Duration = .seconds(10),
        metrics: GatewayMetrics, logger: Logger
    ) {
        self.drainLimit = drainLimit
        self.redis = redis
        self.metrics = metrics
        self.logger = logger
        self.queues = EventLoopShards(group: group) { _, _ in Queue(capacity: capacity) }
        self.state = .makeBoxSendingValue(State(), eventLoop: redis.eventLoop)
    }

    private var eventLoop: any EventLoop { self.redis.eventLoop }

    /// The outbox for connections on `eventLoop` (one of the group's).
    func outbox(for eventLoop: any EventLoop) -> Outbox {
        Outbox(queue: self.queues.shard(for: eventLoop), publisher: self)
    }

    /// Waits for the graceful shutdown, then until what the closing connections queued is sent.
    func run() async {
        try? await gracefulShutdown()
        let eventLoop = self.eventLoop
        let giveUp = { @Sendable in
            eventLoop.execute {
                self.state.value.cancelled = true
                // What was never taken is lost with the process: count it too.
                let left = self.queues.all.flatMap { $0.takeAll() }
                self.metrics.publishDropped.increment(by: left.count)
                for entry in left { entry.dropped?() }
                self.completeDrainWaiters()
            }
        }
        // With Redis unreachable the retries would hold the exit for minutes: after
        // `drainLimit`, what is still queued is dropped (counted and logged) and the process ends.
        let deadline = eventLoop.scheduleTask(in: TimeAmount(self.drainLimit)) {
            self.logger.error("Redis unreachable at shutdown: dropping the entries not yet appended", metadata: ["after": "\(self.drainLimit)"])
            giveUp()
        }
        await withTaskCancellationHandler {
            try? await self.drained().get()
        } onCancel: {
            giveUp()
        }
        deadline.cancel()
    }

    /// Completes once every outbox is empty and no batch is in flight.
    private func drained() -> EventLoopFuture<Void> {
        self.eventLoop.flatSubmit {
            let promise = self.eventLoop.makePromise(of: Void.self)
            self.state.value.drainWaiters.append(promise)
            self.sendQueued()
            return promise.futureResult
        }
    }

    /// Runs ``sendQueued()`` on the publisher's loop after the tasks and reads already due there.
    fileprivate func schedule() {
        self.eventLoop.execute {
            self.sendQueued()
        }
    }

    /// Sends what every outbox holds, unless a batch is already on its way (its reply calls
    /// this again). On the publisher's loop.
    private func sendQueued() {
        guard !self.state.value.sending else { return }
        var entries: [Pending] = []
        for queue in self.queues.all {
            entries += queue.takeAll()
        }
        guard !entries.isEmpty else {
            self.completeDrainWaiters()
            return
        }
        self.state.value.sending = true
        self.send(entries, from: 0, attempt: 1)
    }

    /// Sends `entries[start...]` one batch at a time, each after the previous one's reply.
    private func send(_ entries: [Pending], from start: Int, attempt: Int) {
        let end = min(start + self.batchLimit, entries.count)
        let batch = entries[start..<end]
        let started = NIODeadline.now()
        self.redis.pipelineFuture(batch.map(\.append.command)).whenComplete { result in
            self.eventLoop.preconditionInEventLoop()
            switch result {
            case .success(let replies):
                self.metrics.publishLatency.recordNanoseconds((NIODeadline.now() - started).nanoseconds)
                self.metrics.publishBatches.increment()
                self.metrics.publishedEntries.increment(by: batch.count)
                self.metrics.publishBatchSize.record(batch.count)
                for (entry, reply) in zip(batch, replies) {
                    if case .failure(let error) = StreamAppend.result(of: reply) {
                        self.metrics.publishDropped.increment()
                        self.logger.error("stream append refused", metadata: ["error": "\(error)"])
                        entry.dropped?()
                    }
                }
                self.sent(entries, upTo: end)
            case .failure(let error):
                self.metrics.publishFailures.increment()
                guard attempt < self.retryLimit, !self.state.value.cancelled else {
                    self.metrics.publishDropped.increment(by: batch.count)
                    self.logger.error(
                        "stream appends lost", metadata: ["entries": "\(batch.count)", "attempts": "\(attempt)", "error": "\(error)"])
                    for entry in batch { entry.dropped?() }
                    self.sent(entries, upTo: end)
                    return
                }
                let delay = self.backoff.delay(afterFailures: attempt)
                self.logger.warning(
                    "stream append batch failed, retrying",
                    metadata: ["entries": "\(batch.count)", "attempt": "\(attempt)", "retryIn": "\(delay)", "error": "\(error)"])
                self.eventLoop.scheduleTask(in: TimeAmount(delay)) {
                    self.send(entries, from: start, attempt: attempt + 1)
                }
            }
        }
    }

    /// The batch ending at `end` is done with: the next one, or what was queued meanwhile.
    private func sent(_ entries: [Pending], upTo end: Int) {
        if end < entries.count {
            self.send(entries, from: end, attempt: 1)
        } else {
            self.state.value.sending = false
            self.sendQueued()
        }
    }

    private func completeDrainWaiters() {
        let waiters = self.state.value.drainWaiters
        self.state.value.drainWaiters = []
        for waiter in waiters {
            waiter.succeed()
        }
    }
}
