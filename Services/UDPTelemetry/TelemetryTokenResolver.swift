import IoTSocket
import Logging
import Messaging
import NIOCore
import RedisBus
import ServiceKit
import ServiceLifecycle
import Synchronization

/// Looks telemetry tokens up in Redis for the datagram handlers: the owner and lifetime of each
/// token's key, and the owner's ACL record, in one script call per read burst of one socket. An
/// owner whose ACL group has `Telemetry` off (the configuration changed after the token was
/// issued) is refused (`telemetry_off`); one no longer in the ACL is left to the revocation the
/// router does when it removes a device.
///
/// Handlers hand batches over with ``lookUp(_:reply:)`` (never blocking); the service runs each
/// as a child task and calls the batch's reply with one ``TokenLookupResult`` per token, in
/// order. The handlers bound how many tokens can be in flight, so the queue is bounded too.
///
/// It uses a Redis client of its own with short time limits: a lookup must never wait behind a
/// large `XADD` batch, and when Redis is unreachable the handlers should learn it in about a
/// second, not thirty.
///
/// Shutdown: stopped after the listener, it answers every batch already handed over, then
/// closes its client.
final class TelemetryTokenResolver: Service, Sendable {
    /// Tokens to look up and where to send the answers (from any thread).
    struct Batch: Sendable {
        var tokens: [TelemetryToken]
        var reply: @Sendable ([TokenLookupResult]) -> Void
    }

    /// Per token: its key's value (the owner's UID hex, or nil), `PTTL`, and the owner's ACL
    /// record (or nil).
    static let lookupScript = RedisScript(
        """
        local out = {}
        for _, key in ipairs(KEYS) do
          local owner = redis.call('GET', key)
          if owner then
            out[#out + 1] = owner
            out[#out + 1] = redis.call('PTTL', key)
            out[#out + 1] = redis.call('HGET', ARGV[1], owner)
          else
            out[#out + 1] = false
            out[#out + 1] = -2
            out[#out + 1] = false
          end
        end
        return out
        """)

    private let redis: RedisClient
    private let keys: KeySpace
    /// The groups whose objects may send telemetry (`Groups.<name>.Telemetry`).
    private let telemetryGroups: Set<String>
    private let requests: AsyncStream<Batch>
    private let requestsContinuation: AsyncStream<Batch>.Continuation
    private let metrics: TelemetryMetrics
    private let logger: Logger
    /// When a failure was last logged: during an outage every batch fails, one line in ten
    /// seconds is enough.
    private let lastFailureLog = Mutex<ContinuousClock.Instant?>(nil)

    init(redis: RedisClient, keys: KeySpace, telemetryGroups: Set<String>, metrics: TelemetryMetrics, logger: Logger) {
        (self.requests, self.requestsContinuation) = AsyncStream.makeStream(of: Batch.self)
        self.redis = redis
        self.keys = keys
        self.telemetryGroups = telemetryGroups
        self.metrics = metrics
        self.logger = logger
    }

    /// Queues a lookup; `reply` is called exactly once, on some other thread, with one result per
    /// token in order (all ``TokenLookupResult/failed`` once the service has stopped).
    func lookUp(_ tokens: [TelemetryToken], reply: @escaping @Sendable ([TokenLookupResult]) -> Void) {
        let batch = Batch(tokens: tokens, reply: reply)
        if case .terminated = self.requestsContinuation.yield(batch) {
            reply(Array(repeating: .failed, count: tokens.count))
        }
    }

    func run() async {
        let continuation = self.requestsContinuation
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                for await batch in self.requests {
                    group.addTask { await self.resolve(batch) }
                }
            }
        } onGracefulShutdown: {
            continuation.finish()
        }
        // Batches handed over after the stream ended were answered by `lookUp` itself.
        continuation.finish()
        await self.redis.close()
    }

    private func resolve(_ batch: Batch) async {
        let keys = batch.tokens.map { self.keys.telemetryToken($0.hex) }
        self.metrics.tokenLookups.increment(by: batch.tokens.count)
        let started = ContinuousClock.now
        let results: [TokenLookupResult]
        do {
            let reply = try await self.redis.evalsha(Self.lookupScript, keys: keys, arguments: [.string(self.keys.acl)])
            self.metrics.tokenLookupLatency.recordNanoseconds((ContinuousClock.now - started).wholeNanoseconds)
            guard let items = reply.array, items.count == 3 * batch.tokens.count else {
                throw RedisError.unexpectedReply(command: "token lookup script", reply: reply.description)
            }
            results = batch.tokens.indices.map { index in
                self.result(for: batch.tokens[index], value: items[3 * index], timeToLive: items[3 * index + 1], aclRecord: items[3 * index + 2])
            }
        } catch {
            self.metrics.tokenLookupFailures.increment()
            self.logFailure(error, tokens: batch.tokens.count)
            results = Array(repeating: .failed, count: batch.tokens.count)
        }
        batch.reply(results)
    }

    /// Reads one token's part of the script's reply.
    private func result(for token: TelemetryToken, value: RedisValue, timeToLive: RedisValue, aclRecord: RedisValue) -> TokenLookupResult {
        switch value {
        case .null:
            return .absent
        case .error(let message):
            // LOADING after a restart, or a key that is not a string: nothing can be concluded.
            self.logger.warning("token lookup refused", metadata: ["token": "\(token.hex)", "error": "\(message)"])
            return .failed
        default:
            break
        }
        guard let text = value.string, let uid = try? UID(hex: text) else {
            self.logger.warning(
                "token key does not hold a UID", metadata: ["key": "\(self.keys.telemetryToken(token.hex))", "value": "\(value)"])
            return .absent
        }
        if let record = aclRecord.bytes, let entry = ACLRecord.decode(uid: uid, bytes: record), !self.telemetryGroups.contains(entry.group.string) {
            return .refused(.telemetryOff)
        }
        switch timeToLive.int {
        case .some(-2):
            // Expired or deleted between the two commands.
            return .absent
        case let milliseconds? where milliseconds >= 0:
            return .owner(uid: uid.hex, timeToLive: .milliseconds(Int64(milliseconds)))
        default:
            // -1: no expiry (groups whose tokens never expire).
            return .owner(uid: uid.hex, timeToLive: nil)
        }
    }

    private func logFailure(_ error: any Error, tokens: Int) {
        let now = ContinuousClock.now
        let due = self.lastFailureLog.withLock { last -> Bool in
            guard last.map({ now - $0 >= .seconds(10) }) ?? true else { return false }
            last = now
            return true
        }
        if due {
            self.logger.warning("token lookups failed", metadata: ["tokens": "\(tokens)", "error": "\(error)"])
        }
    }
}
