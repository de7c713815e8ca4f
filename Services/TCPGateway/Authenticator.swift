import IoTSocket
import Logging
import Messaging
import NIOCore
import RedisBus

/// Checks challenge answers: the HMAC against the key the ACL holds for the UID (this
/// gateway's ``ACLCache``, else `HGET <acl> <uid hex>`), or against the configured central key
/// for the empty UID.
///
/// State: the ``LoginThrottle`` and the ``ACLCache``; safe to call from any thread.
struct Authenticator: Sendable {
    /// The outcome of one check.
    enum Verdict: Sendable {
        /// `aclKey`: the ACL key the answer matched (nil for the central), whose fingerprint the
        /// session-opened event carries so that the router can tell a stale cached one.
        case accepted(aclKey: AuthKey?)
        /// Refuse (validation 0x00) after waiting `delay` (repeated failures from one address).
        case refused(LoginRefusal, delay: Duration)
    }

    let redis: RedisClient
    let keys: KeySpace
    let centralKey: AuthKey?
    let throttle: LoginThrottle
    let cache: ACLCache
    let metrics: GatewayMetrics
    let logger: Logger

    /// Verifies `answer` to `challenge` from the peer at `remoteIP`; `nil` is an answer that
    /// could not even be read (its UID is not a valid name). The future completes on `eventLoop`.
    ///
    /// An answer that matches the cached record is accepted at once. Otherwise (no record
    /// cached, or one the answer does not match: the key may have changed) the record is read
    /// from Redis with a future on the Redis client's loop and the HMAC checked back on
    /// `eventLoop`: an accepted login runs no task (a task per login cost a hop through Swift
    /// Concurrency's pool each way). Refusals go through the ``LoginThrottle``.
    ///
    /// Never fails: a Redis failure refuses the login (reason `acl_unavailable`) without
    /// counting it against the address.
    func verify(_ answer: ChallengeAnswer?, challenge: Challenge, remoteIP: String, on eventLoop: any EventLoop) -> EventLoopFuture<Verdict> {
        guard let answer else {
            return self.refuse(.malformedAnswer, remoteIP: remoteIP, on: eventLoop)
        }
        if answer.uid.isCentral {
            guard let centralKey = self.centralKey else {
                self.logger.warning(
                    "central login refused: no central key is configured (Central.AuthKey or IOTS_CENTRAL_AUTHKEY)",
                    metadata: ["remote": "\(remoteIP)"])
                return self.refuse(.centralKeyMissing, remoteIP: remoteIP, on: eventLoop)
            }
            return self.check(answer, key: centralKey, fromACL: false, challenge: challenge, remoteIP: remoteIP, on: eventLoop)
        }
        if let cached = self.cache.record(for: answer.uid), answer.isValid(for: cached.key, challenge: challenge) {
            self.metrics.aclFromCache.increment()
            return eventLoop.makeSucceededFuture(.accepted(aclKey: cached.key))
        }
        self.metrics.aclFromRedis.increment()
        let generation = self.cache.generation
        return self.redis.pipelineFuture([["HGET", .string(self.keys.acl), .string(answer.uid.hex)]])
            .hop(to: eventLoop)
            .flatMapThrowing { replies -> [UInt8]? in
                guard let reply = replies.first else { throw RedisError.unexpectedReply(command: "HGET", reply: "no reply") }
                if let message = reply.errorMessage { throw RedisError.server(message: message, command: "HGET") }
                return reply.bytes
            }
            .flatMap { record -> EventLoopFuture<Verdict> in
                guard let record, let entry = ACLRecord.decode(uid: answer.uid, bytes: record) else {
                    self.cache.evict(answer.uid)
                    return self.refuse(.unknownUID, remoteIP: remoteIP, on: eventLoop)
                }
                self.cache.store(answer.uid, key: entry.key, readAt: generation)
                return self.check(answer, key: entry.key, fromACL: true, challenge: challenge, remoteIP: remoteIP, on: eventLoop)
            }
            .flatMapError { error in
                self.logger.error("ACL lookup failed", metadata: ["uid": "\(answer.uid)", "error": "\(error)"])
                return eventLoop.makeSucceededFuture(.refused(.aclUnavailable, delay: .zero))
            }
    }

    private func check(
        _ answer: ChallengeAnswer, key: AuthKey, fromACL: Bool, challenge: Challenge, remoteIP: String, on eventLoop: any EventLoop
    ) -> EventLoopFuture<Verdict> {
        guard answer.isValid(for: key, challenge: challenge) else {
            return self.refuse(.badKey, remoteIP: remoteIP, on: eventLoop)
        }
        return eventLoop.makeSucceededFuture(.accepted(aclKey: fromACL ? key : nil))
    }

    private func refuse(_ reason: LoginRefusal, remoteIP: String, on eventLoop: any EventLoop) -> EventLoopFuture<Verdict> {
        let throttle = self.throttle
        return eventLoop.makeFutureWithTask {
            .refused(reason, delay: await throttle.recordFailure(from: remoteIP))
        }
    }
}
