import IoTSocket
import RedisBus

/// The central's answer to a request webhook (or the dispatcher's 0x01 when there was no valid
/// answer in time), sent back to the router to complete the object's request.
///
/// Fields on `iots:router`: `t`=`answer`, `uid` (hex), `trk`, `code`, `p` (payload block wire
/// bytes). The router matches it to the object's request in flight (`u:<uid>:<trk>`).
public struct WebhookAnswer: Sendable, Equatable {
    public var uid: UID
    public var tracking: UInt16
    public var code: ResponseCode
    public var payload: PayloadBlock

    public init(uid: UID, tracking: UInt16, code: ResponseCode, payload: PayloadBlock) {
        self.uid = uid
        self.tracking = tracking
        self.code = code
        self.payload = payload
    }

    public var fields: [(name: String, value: RedisArgument)] {
        [
            ("t", "answer"), ("uid", .string(self.uid.hex)), ("trk", .integer(Int(self.tracking))),
            ("code", .integer(Int(self.code.rawValue))), ("p", .bytes(PayloadBlock.wireBytes(self.payload))),
        ]
    }

    /// - Throws: `MessageError` naming the entry and the field.
    public init(entry: StreamEntry) throws(MessageError) {
        guard let uid = entry.string("uid").flatMap({ try? UID(hex: $0) }) else {
            throw MessageError(entry: entry.id, field: "uid", problem: "missing or not 32 hex digits")
        }
        guard let tracking = entry.string("trk").flatMap({ UInt16($0) }), let code = entry.string("code").flatMap({ UInt8($0) }) else {
            throw MessageError(entry: entry.id, field: "trk/code", problem: "missing or out of range")
        }
        guard let bytes = entry["p"], let payload = PayloadBlock.fromWireBytes(bytes) else {
            throw MessageError(entry: entry.id, field: "p", problem: "missing or not a payload block")
        }
        self.init(uid: uid, tracking: tracking, code: ResponseCode(code), payload: payload)
    }
}
