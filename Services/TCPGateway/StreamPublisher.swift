import Logging
import NIOCore
import NIOPosix
import RedisBus
import ServiceLifecycle

/// Appends what the sessions produce (router messages, lifecycle events) to Redis streams in
/// pipelined batches, in the order each connection produced them.
///
/// Handlers append to the ``Outbox`` of their own event loop, synchronously and without a lock:
/// a connection lives on one loop, so its entries are queued in the order it made them. The
/// service takes everything queued on every loop, sends it as one pipeline, and repeats; a
/// doorbell (an `AsyncStream` holding at most one ring) wakes it when an outbox goes from empty
/// to non-empty. A failed batch is retried before anything newer is sent, so order survives a
/// Redis reconnect.
///
/// Shutdown: started first, so the service group stops it last; by then the server has closed
/// every connection, and the final flush sends their session-closed events.
final class StreamPublisher: Service, Sendable {
    /// The queue of one event loop; use it only on that loop.
    final class Outbox: Sendable {
        let eventLoop: any EventLoop
        private let pending: NIOLoopBoundBox<[StreamAppend]>
        private let doorbell: AsyncStream<Void>.Continuation
        private let capacity: Int
        private let metrics: GatewayMetrics

        fileprivate init(eventLoop: any EventLoop, doorbell: AsyncStream<Void>.Continuation, capacity: Int, metrics: GatewayMetrics) {
            self.eventLoop = eventLoop
            self.pending = .makeBoxSendingValue([], eventLoop: eventLoop)
            self.doorbell = doorbell
            self.capacity = capacity
            self.metrics = metrics
        }

        /// Queues one XADD. Drops it (counted) when Redis has fallen so far behind that the
        /// queue holds `capacity` entries: memory stays bounded.
        func append(_ entry: StreamAppend) {
            let wasEmpty = self.pending.value.isEmpty
            guard self.pending.value.count < self.capacity else {
                self.metrics.publishDropped.increment()
                return
            }
            self.pending.value.append(entry)
            if wasEmpty {
                self.doorbell.yield()
            }
        }

        fileprivate func takeAll() -> [StreamAppend] {
            let entries = self.pending.value
            self.pending.value = []
            return entries
        }
    }

    let outboxes: EventLoopShards<Outbox>
    private let redis: RedisClient
    private let doorbell: AsyncStream<Void>
    private let doorbellContinuation: AsyncStream<Void>.Continuation
    private let metrics: GatewayMetrics
    private let logger: Logger
    private let batchLimit = 1024
    private let retryLimit = 8

    /// - Parameter capacity: the most entries one event loop may have waiting.
    init(group: MultiThreadedEventLoopGroup, redis: RedisClient, capacity: Int = 100_000, metrics: GatewayMetrics, logger: Logger) {
        let (doorbell, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        self.doorbell = doorbell
        self.doorbellContinuation = continuation
        self.redis = redis
        self.metrics = metrics
        self.logger = logger
        self.outboxes = EventLoopShards(group: group) { _, loop in
            Outbox(eventLoop: loop, doorbell: continuation, capacity: capacity, metrics: metrics)
        }
    }

    func run() async {
        let continuation = self.doorbellContinuation
        await withGracefulShutdownHandler {
            for await _ in self.doorbell {
                await self.flush()
            }
        } onGracefulShutdown: {
            continuation.finish()
        }
        // Whatever the last connections queued before the server returned.
        if !Task.isCancelled {
            await self.flush()
        }
    }

    /// Sends everything queued on every loop, in batches of at most `batchLimit`.
    private func flush() async {
        var entries: [StreamAppend] = []
        for outbox in self.outboxes.all {
            if let taken = try? await outbox.eventLoop.submit({ outbox.takeAll() }).get() {
                entries += taken
            }
        }
        var start = 0
        while start < entries.count {
            let end = min(start + self.batchLimit, entries.count)
            await self.send(Array(entries[start..<end]))
            start = end
        }
    }

    /// Sends one batch, retrying it with backoff on connection failures (it may then be appended
    /// twice: at least once is preferred to silently losing a frame), and gives up after
    /// `retryLimit` attempts, counting the loss.
    private func send(_ batch: [StreamAppend]) async {
        let backoff = ReconnectBackoff()
        var attempt = 0
        while true {
            attempt += 1
            let started = ContinuousClock.now
            do {
                let results = try await self.redis.xadd(batch)
                let elapsed = (ContinuousClock.now - started).components
                self.metrics.publishLatency.recordNanoseconds(elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000)
                self.metrics.publishBatches.increment()
                self.metrics.publishedEntries.increment(by: batch.count)
                self.metrics.publishBatchSize.record(batch.count)
                for case .failure(let error) in results {
                    self.metrics.publishDropped.increment()
                    self.logger.error("stream append refused", metadata: ["error": "\(error)"])
                }
                return
            } catch {
                self.metrics.publishFailures.increment()
                guard attempt < self.retryLimit, !Task.isCancelled else {
                    self.metrics.publishDropped.increment(by: batch.count)
                    self.logger.error(
                        "stream appends lost", metadata: ["entries": "\(batch.count)", "attempts": "\(attempt)", "error": "\(error)"])
                    return
                }
                let delay = backoff.delay(afterFailures: attempt)
                self.logger.warning(
                    "stream append batch failed, retrying",
                    metadata: ["entries": "\(batch.count)", "attempt": "\(attempt)", "retryIn": "\(delay)", "error": "\(error)"])
                try? await Task.sleep(for: delay)
            }
        }
    }
}
