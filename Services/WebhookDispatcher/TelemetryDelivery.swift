import IoTSocket
import Logging
import NIOCore
import ServiceKit
import Synchronization

/// Delivers a batch of telemetry messages to the telemetry webhook, devices in parallel (a
/// few workers taking one device's chain after another) and each device's messages one after
/// the other, and says what became of each.
///
/// Ordering: one device's messages are sent in queue order, the next only after the previous
/// one got its 2xx. When one fails, the device's later messages in the batch are not sent but
/// scheduled right behind it, so order holds as long as the endpoint is healthy. Two batches
/// of one instance overlap, but a device's chain waits for its chain in the batch before
/// (``DeviceLine``), so order holds across its batches too; several
/// instances read disjoint batches at the same time, so a device whose messages land in two
/// instances' batches at once may see those few delivered out of order (run one instance when
/// strict order matters more than throughput and failover).
///
/// Bounds: sending waits for one of the endpoint's in-flight slots; once the batch has run
/// for `budget`, remaining messages are not sent but put in the retry set, due at once, so a
/// batch never runs longer than the budget plus one attempt (the reclaim rule depends on it).
struct TelemetryDelivery: Sendable {
    let endpoint: WebhookEndpoint
    let tracker: ApplicationTracker
    let schedule: RetrySchedule
    let attemptTimeout: Duration
    let budget: Duration
    let logger: Logger

    /// What one message's turn came to.
    private enum Turn: Sendable {
        case sent(Result<ByteBuffer, DeliveryFailure>)
        case overBudget
        case disabled
    }

    /// Delivers `messages` (any order; each device's are sorted by queue order).
    /// - Parameter places: when batches overlap, each device's place in its ``DeviceLine``
    ///   (taken in stream order): its chain waits for the earlier batches' chains of the device.
    /// - Returns: one disposition per message, in the order of `messages`.
    func deliver(_ messages: [PendingTelemetry], line: DeviceLine? = nil, places: [UID: DeviceLine.Place] = [:]) async -> [TelemetryDisposition] {
        guard !messages.isEmpty else { return [] }
        let started = ContinuousClock.now
        var chains: [UID: [Int]] = [:]
        var devices: [UID] = []
        for (index, message) in messages.enumerated() {
            if chains[message.uid] == nil { devices.append(message.uid) }
            chains[message.uid, default: []].append(index)
        }
        var results = [TelemetryDisposition](repeating: .delivered, count: messages.count)
        let work = ChainQueue(
            devices.map { device in
                (place: places[device], chain: chains[device, default: []].sorted { messages[$0].precedes(messages[$1]) }.map { ($0, messages[$0]) })
            })
        // Workers take the next device's chain in turn: a task per device (a thousand per
        // batch) spent more on tasks and on waiting for a slot than on the deliveries. Half as
        // many workers as the endpoint has slots, since two batches are delivered at once
        // (measured: 21 400-21 500/s against 20 000-20 500/s with as many as the slots).
        let workers = min(max(1, self.endpoint.maxInFlight / 2), devices.count)
        await withTaskGroup(of: [(Int, TelemetryDisposition)].self) { group in
            for _ in 0..<workers {
                group.addTask {
                    var dispositions: [(Int, TelemetryDisposition)] = []
                    while let next = work.next() {
                        guard let line, let place = next.place else {
                            dispositions += await self.deliverChain(next.chain, started: started)
                            continue
                        }
                        await line.waitForTurn(place)
                        dispositions += await self.deliverChain(next.chain, started: started)
                        line.leave(place)
                    }
                    return dispositions
                }
            }
            for await chainResults in group {
                for (index, disposition) in chainResults {
                    results[index] = disposition
                }
            }
        }
        var retries = 0
        var deadLettered: [String: Int] = [:]
        for result in results {
            switch result {
            case .delivered: break
            case .retry: retries += 1
            case .deadLetter(_, _, let label): deadLettered[label, default: 0] += 1
            }
        }
        self.tracker.recordScheduling(retries: retries, deadLettered: deadLettered.values.reduce(0, +))
        self.endpoint.metrics.retriesScheduled.increment(by: Int64(retries))
        for (label, count) in deadLettered {
            self.endpoint.metrics.countDeadLettered(count, reason: label)
        }
        return results
    }

    /// One device's messages, in order.
    private func deliverChain(_ chain: [(Int, PendingTelemetry)], started: ContinuousClock.Instant) async -> [(Int, TelemetryDisposition)] {
        var dispositions: [(Int, TelemetryDisposition)] = []
        var heldBehind: Int?
        for (index, message) in chain {
            let now = WallClock.milliseconds()
            if let due = heldBehind {
                // Stay behind the failed predecessor; age counts from now.
                var held = message
                if held.firstFailureMilliseconds == 0 { held.firstFailureMilliseconds = now }
                dispositions.append((index, .retry(held, dueAtMilliseconds: due)))
                continue
            }
            let body: [UInt8]
            do {
                body = try WebhookBody.encode(uid: message.uid, payload: message.payload)
            } catch {
                self.endpoint.metrics.count(outcome: "invalid_payload")
                dispositions.append((index, .deadLetter(message, reason: "payload does not match its format: \(error)", label: "invalid_payload")))
                continue
            }
            let turn: Turn? = await self.endpoint.withSlot {
                if self.tracker.isDisabled { return .disabled }
                if ContinuousClock.now - started > self.budget { return .overBudget }
                if message.failures == 0 && message.firstFailureMilliseconds == 0 {
                    let waited = max(0, WallClock.milliseconds() - message.queuedAtMilliseconds)
                    self.endpoint.metrics.queueToSend.recordNanoseconds(Int64(waited) * 1_000_000)
                }
                let deadline = NIODeadline.now() + .nanoseconds(self.attemptTimeout.wholeNanoseconds)
                return .sent(await self.endpoint.post(body, webhookID: message.webhookID, deadline: deadline, readAnswer: false))
            }
            let after = WallClock.milliseconds()
            switch turn {
            case .sent(.success):
                self.tracker.recordSuccess(atMilliseconds: after)
                self.endpoint.metrics.delivered.increment()
                dispositions.append((index, .delivered))
            case .sent(.failure(let failure)):
                let disposition = self.failed(message, failure, atMilliseconds: after)
                dispositions.append((index, disposition))
                if case .retry(_, let due) = disposition {
                    heldBehind = due
                } else {
                    heldBehind = after + self.schedule.delay(afterFailures: 1, jitterSeed: RetrySchedule.jitterSeed(for: message.uid)).inMilliseconds
                }
            case .disabled:
                self.endpoint.metrics.count(outcome: "disabled")
                dispositions.append((index, .deadLetter(message, reason: "application disabled", label: "disabled")))
            case .overBudget, nil:
                // Not attempted (batch over its time, or shutting down): next in line, due now.
                dispositions.append((index, .retry(message, dueAtMilliseconds: after)))
            }
        }
        return dispositions
    }

    /// The retry (or dead letter) after a failed attempt.
    private func failed(_ message: PendingTelemetry, _ failure: DeliveryFailure, atMilliseconds now: Int) -> TelemetryDisposition {
        self.endpoint.metrics.count(outcome: failure.outcome)
        var updated = message
        if updated.firstFailureMilliseconds == 0 { updated.firstFailureMilliseconds = now }
        if case .circuitOpen(let retryIn) = failure {
            // Nothing was sent: not an attempt; come back when the circuit may let it through.
            // The spread is per device, so one device's messages stay due in order.
            let spread = Int(RetrySchedule.jitterSeed(for: message.uid) % 251)
            return .retry(updated, dueAtMilliseconds: now + retryIn.inMilliseconds + spread)
        }
        self.tracker.recordFailure(failure.description, atMilliseconds: now)
        updated.failures += 1
        updated.lastError = failure.description
        let delay = self.schedule.delay(
            afterFailures: updated.failures, retryAfter: failure.retryAfter, jitterSeed: RetrySchedule.jitterSeed(for: message.uid))
        let due = now + delay.inMilliseconds
        if self.schedule.isExhausted(
            failures: updated.failures, firstFailureMilliseconds: updated.firstFailureMilliseconds, nextAttemptMilliseconds: due)
        {
            self.logger.warning(
                "telemetry webhook given up, dead-lettered",
                metadata: ["webhookID": "\(message.webhookID)", "failures": "\(updated.failures)", "lastError": "\(failure)"])
            return .deadLetter(updated, reason: "retries exhausted after \(updated.failures) attempts: \(failure)", label: "exhausted")
        }
        return .retry(updated, dueAtMilliseconds: due)
    }
}

/// The device chains of one batch, handed out in order to the workers that deliver them.
private final class ChainQueue: Sendable {
    typealias Item = (place: DeviceLine.Place?, chain: [(Int, PendingTelemetry)])

    private let items: [Item]
    private let taken = Mutex(0)

    init(_ items: [Item]) {
        self.items = items
    }

    func next() -> Item? {
        self.taken.withLock { taken in
            guard taken < self.items.count else { return nil }
            taken += 1
            return self.items[taken - 1]
        }
    }
}
