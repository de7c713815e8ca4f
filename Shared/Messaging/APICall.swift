import IoTSocket
import RedisBus

/// A request the central made over HTTP (`POST /request`): the router picks a tracking number
/// not in use toward the object, sends the request, and answers on `replyStream` with an
/// `APIReply` carrying `correlation` (the object's response, 0xA0, 0xA1 or 0xA2).
///
/// Fields: `t`=`call`, `uid` (hex), `api` (reply stream), `id` (correlation), `dl` (deadline,
/// Unix ms: the router answers 0xA1 then), `p` (payload block wire bytes).
public struct APICall: Sendable, Equatable {
    public var uid: UID
    public var replyStream: String
    public var correlation: String
    public var deadlineMilliseconds: Int
    public var payload: PayloadBlock

    public init(uid: UID, replyStream: String, correlation: String, deadlineMilliseconds: Int, payload: PayloadBlock) {
        self.uid = uid
        self.replyStream = replyStream
        self.correlation = correlation
        self.deadlineMilliseconds = deadlineMilliseconds
        self.payload = payload
    }

    public var fields: [(name: String, value: RedisArgument)] {
        [
            ("t", "call"), ("uid", .string(self.uid.hex)), ("api", .string(self.replyStream)), ("id", .string(self.correlation)),
            ("dl", .integer(self.deadlineMilliseconds)), ("p", .bytes(PayloadBlock.wireBytes(self.payload))),
        ]
    }

    /// - Throws: `MessageError` naming the entry and the field.
    public init(entry: StreamEntry) throws(MessageError) {
        guard let uid = entry.string("uid").flatMap({ try? UID(hex: $0) }) else {
            throw MessageError(entry: entry.id, field: "uid", problem: "missing or not 32 hex digits")
        }
        guard let replyStream = entry.string("api"), let correlation = entry.string("id") else {
            throw MessageError(entry: entry.id, field: "api/id", problem: "missing")
        }
        guard let deadline = entry.string("dl").flatMap({ Int($0) }) else {
            throw MessageError(entry: entry.id, field: "dl", problem: "missing or not an integer")
        }
        guard let bytes = entry["p"], let payload = PayloadBlock.fromWireBytes(bytes) else {
            throw MessageError(entry: entry.id, field: "p", problem: "missing or not a payload block")
        }
        self.init(uid: uid, replyStream: replyStream, correlation: correlation, deadlineMilliseconds: deadline, payload: payload)
    }
}
