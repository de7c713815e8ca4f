import IoTSocket
import Logging
import Messaging
import NIOCore
import RedisBus
import ServiceKit
import ServiceLifecycle

/// Consumes the request webhook stream (group `dispatcher`) and answers each object's request
/// through the router: the central's `{Code, Payload, Format}`, or 0x01 when there was no
/// valid answer in time (PROTOCOL.md decision).
///
/// Requests run concurrently, up to the endpoint's in-flight bound (the stream read waits for a
/// free slot, so the backlog stays in Redis); each is acknowledged once its answer is written.
/// A job whose deadline has passed is dropped: the router already answered it. Retries happen
/// only after a refused connection or a 429/503, and only when time remains.
struct RequestWebhookService: Service {
    /// A job holding an in-flight slot, handed from the stream read to its delivery task.
    private struct Accepted: Sendable {
        var entryID: String
        var uid: UID
        var tracking: UInt16
        var payload: PayloadBlock
        var deadlineMilliseconds: Int
    }

    let redis: RedisClient
    let keys: KeySpace
    let instanceID: String
    let settings: DispatcherSettings
    let endpoint: WebhookEndpoint
    let tracker: ApplicationTracker
    let logger: Logger
    /// Attempts at most per request (first one included).
    var maxAttempts = 3
    /// The least time worth starting another attempt with.
    var minimumAttemptTime: Duration = .milliseconds(250)

    func run() async {
        let (jobs, sink) = AsyncStream.makeStream(of: Accepted.self)
        let consumer = StreamConsumer(
            client: self.redis,
            configuration: .init(
                stream: self.keys.webhookRequests, group: "dispatcher", consumer: self.instanceID, batchSize: 64,
                block: .milliseconds(500), reclaimAfter: self.settings.requestReclaimAfter),
            logger: self.logger
        ) { entries in
            await self.accept(entries, into: sink)
        }
        await withDiscardingTaskGroup { group in
            group.addTask {
                await cancelWhenGracefulShutdown { await consumer.run() }
                sink.finish()
            }
            // Deliveries run in this task's group, not the consumer's: stopping lets them end
            // (each is bounded by its deadline) instead of cancelling them.
            for await job in jobs {
                group.addTask { await self.deliver(job) }
            }
        }
    }

    /// Takes a slot for each live job and hands it over; returns the IDs finished here
    /// (malformed, expired), the others are acknowledged by their delivery.
    private func accept(_ entries: [StreamEntry], into sink: AsyncStream<Accepted>.Continuation) async -> [String] {
        var finished: [String] = []
        for entry in entries {
            let job: WebhookJob
            do {
                job = try WebhookJob(entry: entry)
            } catch {
                self.logger.warning("malformed request webhook job dropped", metadata: ["error": "\(error)"])
                self.endpoint.metrics.count(outcome: "malformed")
                finished.append(entry.id)
                continue
            }
            guard case .request(let uid, let tracking, let payload, let deadline) = job else {
                self.logger.warning("telemetry job on the request stream dropped", metadata: ["entry": "\(entry.id)"])
                self.endpoint.metrics.count(outcome: "malformed")
                finished.append(entry.id)
                continue
            }
            guard await self.endpoint.acquireSlot() else { break }
            guard deadline > WallClock.milliseconds() else {
                // The router answered 0x01 at the deadline already.
                self.endpoint.releaseSlot()
                self.endpoint.metrics.count(outcome: "expired")
                finished.append(entry.id)
                continue
            }
            let accepted = Accepted(entryID: entry.id, uid: uid, tracking: tracking, payload: payload, deadlineMilliseconds: deadline)
            if case .terminated = sink.yield(accepted) {
                self.endpoint.releaseSlot()
                break
            }
        }
        return finished
    }

    /// Delivers one request, answers the object, acknowledges the job; releases the slot.
    private func deliver(_ job: Accepted) async {
        defer { self.endpoint.releaseSlot() }
        let (code, payload) = await self.answer(job)
        let answer = WebhookAnswer(uid: job.uid, tracking: job.tracking, code: code, payload: payload)
        do {
            try await self.redis.xadd(self.keys.routerStream, fields: RouterMessage.webhookAnswer(answer).fields)
            try await self.redis.xack(self.keys.webhookRequests, group: "dispatcher", ids: [job.entryID])
        } catch {
            // Left pending: after the reclaim delay its deadline has passed and it is dropped;
            // the router answers the object 0x01 at the deadline.
            self.logger.error(
                "could not answer a request webhook", metadata: ["uid": "\(job.uid)", "tracking": "\(job.tracking)", "error": "\(error)"])
        }
    }

    /// The code and payload for the object.
    private func answer(_ job: Accepted) async -> (ResponseCode, PayloadBlock) {
        let notValid = (ResponseCode.notValid, PayloadBlock.empty)
        if self.tracker.isDisabled {
            self.endpoint.metrics.count(outcome: "disabled")
            return notValid
        }
        let body: [UInt8]
        do {
            body = try WebhookBody.encode(uid: job.uid, payload: job.payload)
        } catch {
            self.endpoint.metrics.count(outcome: "invalid_payload")
            self.logger.info("request payload cannot be put in JSON, answered 0x01", metadata: ["uid": "\(job.uid)", "error": "\(error)"])
            return notValid
        }
        let queuedAt = Int(job.entryID.split(separator: "-").first ?? "") ?? WallClock.milliseconds()
        self.endpoint.metrics.queueToSend.recordNanoseconds(Int64(max(0, WallClock.milliseconds() - queuedAt)) * 1_000_000)
        let webhookID = WebhookSigner.webhookID(prefix: "req", entryID: job.entryID, uid: job.uid)
        var attempt = 0
        while true {
            attempt += 1
            let remaining = job.deadlineMilliseconds - WallClock.milliseconds()
            guard remaining > 0 else {
                self.endpoint.metrics.count(outcome: "timeout")
                return notValid
            }
            let deadline = NIODeadline.now() + .milliseconds(Int64(remaining))
            let result = await self.endpoint.post(body, webhookID: webhookID, deadline: deadline, readAnswer: true)
            let now = WallClock.milliseconds()
            switch result {
            case .success(let buffer):
                do {
                    let answer = try WebhookBody.decodeAnswer(buffer)
                    self.tracker.recordSuccess(atMilliseconds: now)
                    self.endpoint.metrics.delivered.increment()
                    return answer
                } catch {
                    self.tracker.recordFailure("\(error)", atMilliseconds: now)
                    self.endpoint.metrics.count(outcome: "invalid_answer")
                    self.logger.info("central's answer not valid, answered 0x01", metadata: ["uid": "\(job.uid)", "error": "\(error)"])
                    return notValid
                }
            case .failure(let failure):
                self.endpoint.metrics.count(outcome: failure.outcome)
                if case .circuitOpen = failure {
                    return notValid
                }
                self.tracker.recordFailure(failure.description, atMilliseconds: now)
                let pause = failure.retryAfter ?? .milliseconds(100 * attempt)
                let left = Duration.milliseconds(job.deadlineMilliseconds - now)
                guard Self.isRetryable(failure), attempt < self.maxAttempts, pause + self.minimumAttemptTime < left else {
                    return notValid
                }
                do {
                    try await Task.sleep(for: pause)
                } catch {
                    return notValid
                }
            }
        }
    }

    /// Connection refused, 429 and 503: the central did not take the request in.
    private static func isRetryable(_ failure: DeliveryFailure) -> Bool {
        switch failure {
        case .connectionRefused: true
        case .status(let code, _): code == 429 || code == 503
        default: false
        }
    }
}
