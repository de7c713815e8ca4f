import Messaging
import NIOCore
import RedisBus

/// One `XADD` waiting in a ``TelemetryOutbox``: up to ``TelemetryRecord/maxPerEntry`` accepted
/// datagrams packed into one stream entry.
struct PackedAppend: Sendable {
    var command: [RedisArgument]
    /// Datagrams (records) the entry holds.
    var records: Int
}

/// One event loop's accepted telemetry, waiting for the ``TelemetryAppender``, as ready-made
/// `XADD` commands in arrival order, each packing up to ``TelemetryRecord/maxPerEntry``
/// datagrams.
///
/// Only the loop's datagram handler appends, synchronously and without a lock, so the order in
/// which one socket accepted datagrams is the order of their records. Bounded by records and
/// by payload bytes: when Redis lags or is down, what does not fit is refused (the caller
/// counts it as ``DropReason/backpressure``).
final class TelemetryOutbox: Sendable {
    private struct Queue {
        var appends: [PackedAppend] = []
        var records = 0
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

    /// Queues the record of one accepted datagram; false (nothing queued) when full.
    ///
    /// The record (`uid` hex, `p` payload block wire bytes, `at` Unix ms, see
    /// ``TelemetryRecord``) joins the newest `XADD` while it has room, else starts one. It is
    /// written from the datagram's own bytes rather than through `TelemetryRecord.fields`,
    /// which would decode and re-encode the block on the hot path. Call on ``eventLoop`` only.
    func append(uid: String, payloadBlock: [UInt8], receivedAtMilliseconds: Int) -> Bool {
        let wasEmpty = self.queue.withValue { queue -> Bool? in
            guard queue.records < self.capacity, queue.payloadBytes + payloadBlock.count <= self.byteCapacity else {
                return nil
            }
            let wasEmpty = queue.records == 0
            let last = queue.appends.count - 1
            if last >= 0, queue.appends[last].records < TelemetryRecord.maxPerEntry {
                queue.appends[last].command.append(contentsOf: ["uid", .string(uid), "p", .bytes(payloadBlock), "at", .integer(receivedAtMilliseconds)])
                queue.appends[last].records += 1
            } else {
                let command: [RedisArgument] = [
                    "XADD", self.stream, "MAXLEN", "~", self.maxLength, "*",
                    "uid", .string(uid), "p", .bytes(payloadBlock), "at", .integer(receivedAtMilliseconds),
                ]
                queue.appends.append(PackedAppend(command: command, records: 1))
            }
            queue.records += 1
            queue.payloadBytes += payloadBlock.count
            return wasEmpty
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
    func takeAll() -> [PackedAppend] {
        self.queue.withValue { queue in
            defer { queue = Queue() }
            return queue.appends
        }
    }
}
