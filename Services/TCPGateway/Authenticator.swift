import IoTSocket
import Logging
import Messaging
import RedisBus

/// Checks challenge answers: the HMAC against the key the ACL in Redis holds for the UID
/// (`HGET <acl> <uid hex>`), or against the configured central key for the empty UID.
///
/// Stateless apart from the ``LoginThrottle``; safe to call from any task.
struct Authenticator: Sendable {
    /// The outcome of one check.
    enum Verdict: Sendable {
        case accepted
        /// Refuse (validation 0x00) after waiting `delay` (repeated failures from one address).
        case refused(LoginRefusal, delay: Duration)
    }

    let redis: RedisClient
    let keys: KeySpace
    let centralKey: AuthKey?
    let throttle: LoginThrottle
    let logger: Logger

    /// Verifies `answer` to `challenge` from the peer at `remoteIP`.
    ///
    /// Never throws: a Redis failure refuses the login (reason `acl_unavailable`) without
    /// counting it against the address.
    func verify(_ answer: ChallengeAnswer, challenge: Challenge, remoteIP: String) async -> Verdict {
        let key: AuthKey
        if answer.uid.isCentral {
            guard let centralKey = self.centralKey else {
                self.logger.warning(
                    "central login refused: no central key is configured (Central.AuthKey or IOTS_CENTRAL_AUTHKEY)",
                    metadata: ["remote": "\(remoteIP)"])
                return await self.refuse(.centralKeyMissing, remoteIP: remoteIP)
            }
            key = centralKey
        } else {
            let record: [UInt8]?
            do {
                record = try await self.redis.hget(self.keys.acl, field: answer.uid.hex)
            } catch {
                self.logger.error("ACL lookup failed", metadata: ["uid": "\(answer.uid)", "error": "\(error)"])
                return .refused(.aclUnavailable, delay: .zero)
            }
            guard let record, let entry = ACLRecord.decode(uid: answer.uid, bytes: record) else {
                return await self.refuse(.unknownUID, remoteIP: remoteIP)
            }
            key = entry.key
        }
        guard answer.isValid(for: key, challenge: challenge) else {
            return await self.refuse(.badKey, remoteIP: remoteIP)
        }
        return .accepted
    }

    /// A refusal for an answer that could not even be read (its UID is not a valid name).
    func refuseMalformed(remoteIP: String) async -> Verdict {
        await self.refuse(.malformedAnswer, remoteIP: remoteIP)
    }

    private func refuse(_ reason: LoginRefusal, remoteIP: String) async -> Verdict {
        .refused(reason, delay: await self.throttle.recordFailure(from: remoteIP))
    }
}
