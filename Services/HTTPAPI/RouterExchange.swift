import IoTSocket
import Logging
import Messaging
import RedisBus
import ServiceKit

/// Sends this instance's HTTP calls and ACL changes to the router (`<prefix>router`) and waits
/// for the reply on the instance's own stream, which ``ReplyStreamReader`` feeds into
/// ``PendingCalls``.
///
/// Never hangs: a call gets 0xA1 at its deadline plus ``grace`` even when the router is down
/// (the router itself answers 0xA1 at the deadline, so the grace only matters then).
struct RouterExchange: Sendable {
    /// The outcome of a `/request` call.
    struct Answer: Sendable, Equatable {
        var code: ResponseCode
        var payload: PayloadBlock
    }

    let redis: RedisClient
    let keys: KeySpace
    /// `keys.apiStream(instanceID)`: where the router answers this instance.
    let replyStream: String
    let streamMaxLength: Int
    let pending: PendingCalls
    let correlations = CorrelationIDs()
    let metrics: HTTPAPIMetrics
    let logger: Logger
    /// How long after a call's deadline this instance stops waiting for the router's 0xA1.
    var grace: Duration = .milliseconds(250)

    /// Sends `payload` to the object `uid` and returns its response, or the code the
    /// concentrator answered instead (0xA0, 0xA1, 0xA2) with an empty binary payload.
    ///
    /// - Parameter timeout: how long the object has to answer.
    func call(uid: UID, payload: PayloadBlock, timeout: Duration) async -> Answer {
        let (call, deadline) = self.makeCall(uid: uid, payload: payload, timeout: timeout)
        let outcome = await self.exchange(.call(call), correlation: call.correlation, until: deadline)
        return self.answer(outcome, uid: uid, correlation: call.correlation)
    }

    /// ``call(uid:payload:timeout:)`` for a caller that cannot suspend (a channel handler):
    /// `completion` gets the answer exactly once, on the thread that ended the wait (see
    /// ``PendingCalls/register(_:until:send:resume:)``).
    func call(uid: UID, payload: PayloadBlock, timeout: Duration, completion: @escaping @Sendable (Answer) -> Void) {
        let (call, deadline) = self.makeCall(uid: uid, payload: payload, timeout: timeout)
        let correlation = call.correlation
        self.pending.register(correlation, until: deadline, send: self.sender(.call(call))) { outcome in
            completion(self.answer(outcome, uid: uid, correlation: correlation))
        }
    }

    /// The call message for the router and the moment this instance stops waiting for it.
    private func makeCall(uid: UID, payload: PayloadBlock, timeout: Duration) -> (APICall, ContinuousClock.Instant) {
        let call = APICall(
            uid: uid, replyStream: self.replyStream, correlation: self.correlations.next(),
            deadlineMilliseconds: WallClock.milliseconds() + Int(timeout / .milliseconds(1)), payload: payload)
        return (call, ContinuousClock.now + timeout + self.grace)
    }

    /// What a call's wait ended with, as the central sees it.
    private func answer(_ outcome: PendingCalls.Outcome, uid: UID, correlation: String) -> Answer {
        switch outcome {
        case .reply(.response(_, let code, let payload)):
            return Answer(code: code, payload: payload)
        case .reply(.aclApplied):
            self.logger.error("the router answered a call with an ACL outcome", metadata: ["correlation": "\(correlation)"])
            return Answer(code: .timeout, payload: .empty)
        case .expired:
            self.metrics.localTimeouts.increment()
            self.logger.warning(
                "no reply from the router by the deadline; answering 0xA1", metadata: ["uid": "\(uid)", "correlation": "\(correlation)"])
            return Answer(code: .timeout, payload: .empty)
        case .notSent(let reason):
            // The request never left this instance: for the central that is "could never be delivered".
            self.logger.error("cannot send a call to the router", metadata: ["uid": "\(uid)", "error": "\(reason)"])
            return Answer(code: .destinationNotFound, payload: .empty)
        }
    }

    /// Has the router apply `change` to the ACL and waits until it confirms.
    ///
    /// - Throws: `APIError` 503 when Redis cannot take the change or the router does not
    ///   confirm within `timeout`, 500 when the router refuses it.
    func applyACL(_ change: ACLUpdate.Change, timeout: Duration) async throws(APIError) {
        let correlation = self.correlations.next()
        let update = ACLUpdate(change: change, replyStream: self.replyStream, correlation: correlation)
        switch await self.exchange(.aclUpdate(update), correlation: correlation, until: ContinuousClock.now + timeout) {
        case .reply(.aclApplied(_, let outcome)) where outcome == "ok":
            return
        case .reply(.aclApplied(_, let outcome)):
            throw .internalFailure("the router refused the ACL change: \(outcome)")
        case .reply(.response):
            throw .internalFailure("the router answered the ACL change with a response")
        case .expired:
            throw .routerUnavailable("ACL change")
        case .notSent(let reason):
            self.logger.error("cannot send an ACL change to the router", metadata: ["error": "\(reason)"])
            throw .routerUnavailable("ACL change")
        }
    }

    /// Appends `message` to the router stream and waits for its reply until `deadline`.
    private func exchange(_ message: RouterMessage, correlation: String, until deadline: ContinuousClock.Instant) async -> PendingCalls.Outcome {
        await self.pending.wait(for: correlation, until: deadline, send: self.sender(message))
    }

    /// Appends `message` to the router stream, reporting through `failed` only when the append
    /// fails.
    ///
    /// The append is not awaited: its reply (on the Redis client's event loop) matters only
    /// when it fails, and then it ends the wait. Awaiting it would cost an async handler a
    /// round trip through Swift Concurrency's pool before it even starts waiting for the router.
    private func sender(_ message: RouterMessage) -> (_ failed: @escaping @Sendable (String) -> Void) -> Void {
        let append = StreamAppend(stream: self.keys.routerStream, fields: message.fields, maxLength: self.streamMaxLength)
        let redis = self.redis
        return { failed in
            redis.pipelineFuture([append.command]).whenComplete { result in
                switch result {
                case .success(let replies):
                    if let reply = replies.first, case .failure(let error) = StreamAppend.result(of: reply) {
                        failed("\(error)")
                    }
                case .failure(let error):
                    failed("\(error)")
                }
            }
        }
    }
}
