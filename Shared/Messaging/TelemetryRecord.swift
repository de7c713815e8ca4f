import IoTSocket
import RedisBus

/// One accepted telemetry datagram on `iots:telemetry`, appended by udp-telemetry and read by
/// the router (to the central) and remote-sync (to remote servers).
///
/// Fields: `uid` (hex), `p` (payload block wire bytes), `at` (receive time, Unix ms, for the
/// end-to-end latency metric and remote files).
public struct TelemetryRecord: Sendable, Equatable {
    public var uid: UID
    public var payload: PayloadBlock
    public var receivedAtMilliseconds: Int

    public init(uid: UID, payload: PayloadBlock, receivedAtMilliseconds: Int) {
        self.uid = uid
        self.payload = payload
        self.receivedAtMilliseconds = receivedAtMilliseconds
    }

    public var fields: [(name: String, value: RedisArgument)] {
        [("uid", .string(self.uid.hex)), ("p", .bytes(PayloadBlock.wireBytes(self.payload))), ("at", .integer(self.receivedAtMilliseconds))]
    }

    /// - Throws: `MessageError` naming the entry and the field.
    public init(entry: StreamEntry) throws(MessageError) {
        guard let uid = entry.string("uid").flatMap({ try? UID(hex: $0) }) else {
            throw MessageError(entry: entry.id, field: "uid", problem: "missing or not 32 hex digits")
        }
        guard let bytes = entry["p"], let payload = PayloadBlock.fromWireBytes(bytes) else {
            throw MessageError(entry: entry.id, field: "p", problem: "missing or not a payload block")
        }
        self.init(uid: uid, payload: payload, receivedAtMilliseconds: entry.string("at").flatMap { Int($0) } ?? 0)
    }
}
