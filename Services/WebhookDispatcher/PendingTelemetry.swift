import IoTSocket
import Messaging
import RedisBus

/// One telemetry message on its way to the telemetry webhook, with its delivery history.
///
/// It lives in the telemetry stream until its first attempt, in the retry set (encoded with
/// ``encoded()``) between attempts, and in the dead-letter stream (``deadLetterFields(reason:atMilliseconds:)``)
/// once given up. Its ``webhookID`` is derived from the stream entry, so it stays the same
/// across retries, takeovers by another instance, and replays.
struct PendingTelemetry: Sendable, Equatable {
    /// The Standard Webhooks `webhook-id`, and the member in the retry set.
    var webhookID: String
    /// The ID of the entry in the telemetry webhook stream (orders one device's messages).
    var entryID: String
    var uid: UID
    var payload: PayloadBlock
    /// When the concentrator received it (Unix ms).
    var receivedAtMilliseconds: Int
    /// Failed attempts so far.
    var failures: Int
    /// The first failure (Unix ms), 0 before any.
    var firstFailureMilliseconds: Int
    /// The last failure, for the dead-letter reason.
    var lastError: String

    /// A message read from the telemetry webhook stream.
    /// - Throws: `MessageError` when the entry is not a telemetry job.
    init(entry: StreamEntry) throws(MessageError) {
        guard case .telemetry(let uid, let payload, let receivedAt) = try WebhookJob(entry: entry) else {
            throw MessageError(entry: entry.id, field: "trk", problem: "a request job on the telemetry stream")
        }
        self.init(entryID: entry.id, uid: uid, payload: payload, receivedAtMilliseconds: receivedAt)
    }

    init(entryID: String, uid: UID, payload: PayloadBlock, receivedAtMilliseconds: Int) {
        self.webhookID = WebhookSigner.webhookID(prefix: "msg", entryID: entryID, uid: uid)
        self.entryID = entryID
        self.uid = uid
        self.payload = payload
        self.receivedAtMilliseconds = receivedAtMilliseconds
        self.failures = 0
        self.firstFailureMilliseconds = 0
        self.lastError = ""
    }

    /// When it entered the stream (the entry ID's time part, Unix ms).
    var queuedAtMilliseconds: Int { self.order.milliseconds }

    /// The entry ID as numbers, for ordering one device's messages.
    var order: (milliseconds: Int, sequence: Int) {
        let parts = self.entryID.split(separator: "-")
        return (parts.first.flatMap { Int($0) } ?? 0, parts.count > 1 ? Int(parts[1]) ?? 0 : 0)
    }

    /// Whether `self` was queued before `other`.
    func precedes(_ other: PendingTelemetry) -> Bool {
        self.order < other.order
    }

    // MARK: Retry set encoding

    /// `v1|id|entry|uid|at|failures|firstFailure|lastError` then a newline and the payload
    /// block's wire bytes (binary safe: the header holds no newline).
    func encoded() -> [UInt8] {
        let error = self.lastError.replacingOccurrences(of: "\n", with: " ")
        let header = [
            "v1", self.webhookID, self.entryID, self.uid.hex, String(self.receivedAtMilliseconds), String(self.failures),
            String(self.firstFailureMilliseconds), error,
        ].joined(separator: "|")
        return Array(header.utf8) + [0x0A] + PayloadBlock.wireBytes(self.payload)
    }

    /// Decodes ``encoded()``; nil when the bytes are not such a record.
    init?(encoded bytes: [UInt8]) {
        guard let newline = bytes.firstIndex(of: 0x0A) else { return nil }
        let fields = String(decoding: bytes[..<newline], as: UTF8.self).split(separator: "|", maxSplits: 7, omittingEmptySubsequences: false)
        guard fields.count == 8, fields[0] == "v1",
            let uid = try? UID(hex: String(fields[3])),
            let receivedAt = Int(fields[4]), let failures = Int(fields[5]), let firstFailure = Int(fields[6]),
            let payload = PayloadBlock.fromWireBytes(Array(bytes[(newline + 1)...]))
        else { return nil }
        self.webhookID = String(fields[1])
        self.entryID = String(fields[2])
        self.uid = uid
        self.payload = payload
        self.receivedAtMilliseconds = receivedAt
        self.failures = failures
        self.firstFailureMilliseconds = firstFailure
        self.lastError = String(fields[7])
    }

    // MARK: Dead-letter stream

    /// The fields of its dead-letter entry: `id`, `entry`, `uid`, `p`, `at`, `failures`,
    /// `firstFailure`, `reason`, `deadAt`.
    func deadLetterFields(reason: String, atMilliseconds now: Int) -> [(name: String, value: RedisArgument)] {
        [
            ("id", .string(self.webhookID)), ("entry", .string(self.entryID)), ("uid", .string(self.uid.hex)),
            ("p", .bytes(PayloadBlock.wireBytes(self.payload))), ("at", .integer(self.receivedAtMilliseconds)),
            ("failures", .integer(self.failures)), ("firstFailure", .integer(self.firstFailureMilliseconds)),
            ("reason", .string(reason)), ("deadAt", .integer(now)),
        ]
    }

    /// A dead-lettered message, its history reset for a replay; nil when the entry is not one.
    init?(deadLetter entry: StreamEntry) {
        guard let webhookID = entry.string("id"), let entryID = entry.string("entry"),
            let uid = entry.string("uid").flatMap({ try? UID(hex: $0) }),
            let payload = entry["p"].flatMap({ PayloadBlock.fromWireBytes($0) })
        else { return nil }
        self.init(entryID: entryID, uid: uid, payload: payload, receivedAtMilliseconds: entry.string("at").flatMap { Int($0) } ?? 0)
        self.webhookID = webhookID
    }
}
