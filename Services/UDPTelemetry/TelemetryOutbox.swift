import Messaging
import NIOCore
import RedisBus

/// One event loop's accepted telemetry, waiting for the ``TelemetryAppender``, as ready-made
/// `XADD` commands in arrival order.
///
/// Only the loop's datagram handler appends, synchronously and without a lock, so the order in
/// which one socket accepted datagrams is the order of their entries. Bounded by entries and
/// by payload bytes: when Redis lags or is down, what does not fit is refused (the caller
/// counts it as ``DropReason/backpressure``).
final class TelemetryOutbox: Sendable {
    private struct Queue {
        var commands: [[RedisArgument]] = []
        var payloadBytes = 0
    }

    let eventLoop: any EventLoop
    /// Rings (holding at most one ring) when the outbox goes from empty to not empty.
    let doorbell: AsyncStream<Void>
    private let doorbellContinuation: AsyncStream<Void>.Continuation
    private let queue: NIOLoopBoundBox<Queue>
    private let stream: RedisArgument
    private let maxLength: RedisArgument
    private let capacity: Int
    private let byteCapacity: Int

    /// - Parameter stream: the telemetry stream key.
    init(eventLoop: any EventLoop, stream: String, settings: TelemetrySettings) {
        self.eventLoop = eventLoop
        (self.doorbell, self.doorbellContinuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        self.queue = .makeBoxSendingValue(Queue(), eventLoop: eventLoop)
        self.stream = .string(stream)
        self.maxLength = .integer(settings.streamMaxLength)
        self.capacity = settings.outboxCapacity
        self.byteCapacity = settings.outboxByteCapacity
    }

    /// Queues the stream entry of one accepted datagram; false (nothing queued) when full.
    ///
    /// The entry is a ``TelemetryRecord`` (`uid` hex, `p` payload block wire bytes, `at` Unix
    /// ms), written from the datagram's own bytes rather than through `TelemetryRecord.fields`,
    /// which would decode and re-encode the block on the hot path. Call on ``eventLoop`` only.
    func append(uid: String, payloadBlock: [UInt8], receivedAtMilliseconds: Int) -> Bool {
        let wasEmpty = self.queue.withValue { queue -> Bool? in
            guard queue.commands.count < self.capacity, queue.payloadBytes + payloadBlock.count <= self.byteCapacity else {
                return nil
            }
            queue.commands.append([
                "XADD", self.stream, "MAXLEN", "~", self.maxLength, "*",
                "uid", .string(uid), "p", .bytes(payloadBlock), "at", .integer(receivedAtMilliseconds),
            ])
            queue.payloadBytes += payloadBlock.count
            return queue.commands.count == 1
        }
        guard let wasEmpty else { return false }
        if wasEmpty {
            self.doorbellContinuation.yield()
        }
        return true
    }

    /// Ends ``doorbell`` (at shutdown): its reader then takes what is left and stops.
    func closeDoorbell() {
        self.doorbellContinuation.finish()
    }

    /// Everything queued, oldest first; the outbox is empty afterwards. Call on ``eventLoop``.
    func takeAll() -> [[RedisArgument]] {
        self.queue.withValue { queue in
            defer { queue = Queue() }
            return queue.commands
        }
    }
}
