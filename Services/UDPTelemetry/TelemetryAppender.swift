import Logging
import NIOCore
import RedisBus
import ServiceKit
import ServiceLifecycle

/// Appends accepted telemetry to the telemetry stream in pipelined `XADD` batches, in the
/// order each event loop accepted it (each `XADD` packs up to ``TelemetryRecord/maxPerEntry``
/// datagrams into one entry).
///
/// Each loop's handler queues records in that loop's ``TelemetryOutbox``; for each outbox a
/// child task takes everything queued, sends it as pipelines of at most `appendBatchLimit`
/// datagrams, one at a time, and repeats. The outbox's doorbell wakes it when the outbox goes
/// from empty to not empty, so batches grow by themselves with the load: while one is in
/// flight the next accumulates. One drain per loop keeps each loop's order (a device's
/// datagrams always arrive on the same loop) while the loops' batches are encoded in parallel
/// and overlap on the Redis connection.
///
/// When Redis fails, the batch in hand is retried with backoff before anything newer, so order
/// survives a reconnect (a batch that failed midway may then be appended twice: at least once
/// beats silent loss). Meanwhile the outboxes fill up to their bounds and refuse the rest,
/// counted as `backpressure`.
///
/// Shutdown: listed first, so the service group stops it last, after the listener has stopped
/// reading and the resolver has released what waited for lookups; it then flushes what is
/// buffered, retrying for at most `shutdownFlushTimeout`, and counts what it gives up.
final class TelemetryAppender: Service, Sendable {
    let outboxes: [TelemetryOutbox]
    private let redis: RedisClient
    private let batchLimit: Int
    private let shutdownFlushTimeout: Duration
    private let backoff = ReconnectBackoff(initialDelay: .milliseconds(20), maximumDelay: .seconds(1))
    private let metrics: TelemetryMetrics
    private let logger: Logger

    /// - Parameters:
    ///   - loops: the event loops whose sockets produce telemetry (one outbox each).
    ///   - stream: the telemetry stream key.
    init(
        loops: [any EventLoop], redis: RedisClient, stream: String, settings: TelemetrySettings, metrics: TelemetryMetrics,
        logger: Logger
    ) {
        self.outboxes = loops.map { TelemetryOutbox(eventLoop: $0, stream: stream, settings: settings) }
        self.redis = redis
        self.batchLimit = settings.appendBatchLimit
        self.shutdownFlushTimeout = settings.shutdownFlushTimeout
        self.metrics = metrics
        self.logger = logger
    }

    /// The outbox of `eventLoop` (which must be one of the loops given at init).
    func outbox(for eventLoop: any EventLoop) -> TelemetryOutbox {
        guard let outbox = self.outboxes.first(where: { $0.eventLoop === eventLoop }) else {
            preconditionFailure("no telemetry outbox for event loop \(eventLoop)")
        }
        return outbox
    }

    func run() async {
        let outboxes = self.outboxes
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                for outbox in outboxes {
                    group.addTask { await self.drain(outbox) }
                }
            }
        } onGracefulShutdown: {
            for outbox in outboxes {
                outbox.closeDoorbell()
            }
        }
    }

    /// Appends what `outbox` queues until its doorbell closes, then what is left.
    private func drain(_ outbox: TelemetryOutbox) async {
        var shutdownDeadline: ContinuousClock.Instant?
        for await _ in outbox.doorbell {
            await self.flush(outbox, shutdownDeadline: &shutdownDeadline)
        }
        // What the last bursts and lookups queued before the listener and resolver stopped.
        if shutdownDeadline == nil {
            shutdownDeadline = .now + self.shutdownFlushTimeout
        }
        await self.flush(outbox, shutdownDeadline: &shutdownDeadline)
    }

    /// Takes what `outbox` has queued and appends it, batch by batch.
    private func flush(_ outbox: TelemetryOutbox, shutdownDeadline: inout ContinuousClock.Instant?) async {
        guard let appends = try? await outbox.eventLoop.submit({ outbox.takeAll() }).get() else { return }
        var start = 0
        while start < appends.count {
            var end = start
            var records = 0
            while end < appends.count, end == start || records + appends[end].records <= self.batchLimit {
                records += appends[end].records
                end += 1
            }
            await self.append(appends[start..<end], shutdownDeadline: &shutdownDeadline)
            start = end
        }
    }

    /// Sends one batch until Redis takes it; gives up (counting its records) only when the task
    /// is cancelled or the shutdown flush time has run out.
    private func append(_ batch: ArraySlice<PackedAppend>, shutdownDeadline: inout ContinuousClock.Instant?) async {
        var failures = 0
        let records = batch.reduce(0) { $0 + $1.records }
        while true {
            let started = ContinuousClock.now
            do {
                let replies = try await self.redis.pipeline(batch.map(\.command))
                self.metrics.appendLatency.recordNanoseconds((ContinuousClock.now - started).wholeNanoseconds)
                self.metrics.appendBatchSize.record(records)
                var refused = 0
                var firstRefusal: String?
                for (append, reply) in zip(batch, replies) {
                    guard case .error(let message) = reply else { continue }
                    refused += append.records
                    firstRefusal = firstRefusal ?? message
                }
                self.metrics.appended.increment(by: records - refused)
                if let firstRefusal {
                    self.metrics.dropped(.appendRefused, count: refused)
                    self.logger.error("telemetry appends refused", metadata: ["records": "\(refused)", "error": "\(firstRefusal)"])
                }
                if failures > 0 {
                    self.logger.info("telemetry appends resumed", metadata: ["failedAttempts": "\(failures)"])
                }
                return
            } catch {
                failures += 1
                self.metrics.appendFailures.increment()
                if Task.isShuttingDownGracefully, shutdownDeadline == nil {
                    shutdownDeadline = .now + self.shutdownFlushTimeout
                }
                var delay = self.backoff.delay(afterFailures: failures)
                if let deadline = shutdownDeadline {
                    let left = deadline - .now
                    delay = min(delay, left)
                    guard left > .zero else {
                        self.giveUp(records, after: failures, error: error)
                        return
                    }
                }
                guard !Task.isCancelled else {
                    self.giveUp(records, after: failures, error: error)
                    return
                }
                if failures == 1 || failures.isMultiple(of: 50) {
                    self.logger.warning(
                        "telemetry append failed, retrying",
                        metadata: ["records": "\(records)", "attempt": "\(failures)", "retryIn": "\(delay)", "error": "\(error)"])
                }
                try? await Task.sleep(for: delay)
            }
        }
    }

    private func giveUp(_ count: Int, after failures: Int, error: any Error) {
        self.metrics.dropped(.backpressure, count: count)
        self.logger.error(
            "telemetry appends lost", metadata: ["records": "\(count)", "attempts": "\(failures)", "error": "\(error)"])
    }
}
