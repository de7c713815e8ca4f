import IoTSocket
import RedisBus

/// Work for webhook-dispatcher, written by the router when no central TCP session exists.
///
/// Request jobs and telemetry jobs travel on separate streams (`webhookRequests`,
/// `webhookTelemetry`, group `dispatcher`) so a request webhook never waits behind a telemetry
/// backlog.
///
/// Fields: `uid` (hex), `p` (payload block wire bytes), and for requests `trk` (the object's
/// tracking number) and `dl` (deadline, Unix ms: past it the object has been answered 0x01 by
/// the router and the job is dropped); for telemetry `at` (receive time, Unix ms).
public enum WebhookJob: Sendable, Equatable {
    case request(uid: UID, tracking: UInt16, payload: PayloadBlock, deadlineMilliseconds: Int)
    case telemetry(uid: UID, payload: PayloadBlock, receivedAtMilliseconds: Int)

    public var fields: [(name: String, value: RedisArgument)] {
        switch self {
        case .request(let uid, let tracking, let payload, let deadline):
            [
                ("uid", .string(uid.hex)), ("trk", .integer(Int(tracking))), ("p", .bytes(PayloadBlock.wireBytes(payload))),
                ("dl", .integer(deadline)),
            ]
        case .telemetry(let uid, let payload, let at):
            [("uid", .string(uid.hex)), ("p", .bytes(PayloadBlock.wireBytes(payload))), ("at", .integer(at))]
        }
    }

    /// Decodes an entry of the request stream (`trk` present) or the telemetry stream.
    /// - Throws: `MessageError` naming the entry and the field.
    public init(entry: StreamEntry) throws(MessageError) {
        guard let uid = entry.string("uid").flatMap({ try? UID(hex: $0) }) else {
            throw MessageError(entry: entry.id, field: "uid", problem: "missing or not 32 hex digits")
        }
        guard let bytes = entry["p"], let payload = PayloadBlock.fromWireBytes(bytes) else {
            throw MessageError(entry: entry.id, field: "p", problem: "missing or not a payload block")
        }
        if let trackingText = entry.string("trk") {
            guard let tracking = UInt16(trackingText), let deadline = entry.string("dl").flatMap({ Int($0) }) else {
                throw MessageError(entry: entry.id, field: "trk/dl", problem: "not a tracking number and a deadline")
            }
            self = .request(uid: uid, tracking: tracking, payload: payload, deadlineMilliseconds: deadline)
        } else {
            self = .telemetry(uid: uid, payload: payload, receivedAtMilliseconds: entry.string("at").flatMap { Int($0) } ?? 0)
        }
    }
}
