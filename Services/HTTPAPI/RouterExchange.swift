import Foundation
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
    let metrics: HTTPAPIMetrics
    let logger: Logger
    /// How long after a call's deadline this instance stops waiting for the router's 0xA1.
    var grace: Duration = .milliseconds(250)

    /// Sends `payload` to the object `uid` and returns its response, or the code the
    /// concentrator answered instead (0xA0, 0xA1, 0xA2) with an empty binary payload.
    ///
    /// - Parameter timeout: how long the object has to answer.
    func call(uid: UID, payload: PayloadBlock, timeout: Duration) async -> Answer {
        let correlation = UUID().uuidString
        let deadline = ContinuousClock.now + timeout
        let call = APICall(
            uid: uid, replyStream: self.replyStream, correlation: correlation,
            deadlineMilliseconds: WallClock.milliseconds() + Int(timeout / .milliseconds(1)), payload: payload)
        await self.pending.register(correlation)
        do {
            try await self.redis.xadd(self.keys.routerStream, fields: RouterMessage.call(call).fields, maxLength: self.streamMaxLength)
        } catch {
            await self.pending.cancel(correlation)
            // The request never left this instance: for the central that is "could never be delivered".
            self.logger.error("cannot send a call to the router", metadata: ["uid": "\(uid)", "error": "\(error)"])
            return Answer(code: .destinationNotFound, payload: .empty)
        }
        switch await self.awaitReply(correlation, until: deadline + self.grace) {
        case .response(_, let code, let payload)?:
            return Answer(code: code, payload: payload)
        case .aclApplied?:
            self.logger.error("the router answered a call with an ACL outcome", metadata: ["correlation": "\(correlation)"])
            return Answer(code: .timeout, payload: .empty)
        case nil:
            self.metrics.localTimeouts.increment()
            self.logger.warning(
                "no reply from the router by the deadline; answering 0xA1", metadata: ["uid": "\(uid)", "correlation": "\(correlation)"])
            return Answer(code: .timeout, payload: .empty)
        }
    }

    /// Has the router apply `change` to the ACL and waits until it confirms.
    ///
    /// - Throws: `APIError` 503 when Redis cannot take the change or the router does not
    ///   confirm within `timeout`, 500 when the router refuses it.
    func applyACL(_ change: ACLUpdate.Change, timeout: Duration) async throws(APIError) {
        let correlation = UUID().uuidString
        let deadline = ContinuousClock.now + timeout
        let update = ACLUpdate(change: change, replyStream: self.replyStream, correlation: correlation)
        await self.pending.register(correlation)
        do {
            try await self.redis.xadd(self.keys.routerStream, fields: RouterMessage.aclUpdate(update).fields, maxLength: self.streamMaxLength)
        } catch {
            await self.pending.cancel(correlation)
            self.logger.error("cannot send an ACL change to the router", metadata: ["error": "\(error)"])
            throw .routerUnavailable("ACL change")
        }
        switch await self.awaitReply(correlation, until: deadline) {
        case .aclApplied(_, let outcome)? where outcome == "ok":
            return
        case .aclApplied(_, let outcome)?:
            throw .internalFailure("the router refused the ACL change: \(outcome)")
        case .response?:
            throw .internalFailure("the router answered the ACL change with a response")
        case nil:
            throw .routerUnavailable("ACL change")
        }
    }

    /// The reply for `correlation`, or nil once `deadline` passes.
    private func awaitReply(_ correlation: String, until deadline: ContinuousClock.Instant) async -> APIReply? {
        let pending = self.pending
        return await withTaskGroup(of: Void.self) { group in
            group.addTask {
                // Also ends early when the HTTP call itself is cancelled: expiring then frees the
                // waiter. After a reply the call is gone and expiring is a no-op.
                try? await Task.sleep(until: deadline, clock: .continuous)
                await pending.expire(correlation)
            }
            let reply = await pending.wait(for: correlation)
            group.cancelAll()
            return reply
        }
    }
}
