import IoTSocket
import RedisBus

/// One accepted telemetry datagram on `iots:telemetry`, appended by udp-telemetry and read by
/// the router (to the central) and remote-sync (to remote servers).
///
/// Fields: `uid` (hex), `p` (payload block wire bytes), `at` (receive time, Unix ms, for the
/// end-to-end latency metric and remote files).
///
/// An entry packs one record or several, in arrival order, as repeated `uid`, `p`, `at` triples
/// (at most ``maxPerEntry``): one `XADD` and one stream entry for a burst of datagrams instead
/// of one each, which is what lets one instance append hundreds of thousands per second.
/// Readers take every record of an entry with ``records(in:)``.
public struct TelemetryRecord: Sendable, Equatable {
    /// Most records udp-telemetry packs into one stream entry.
    public static let maxPerEntry = 64

    public var uid: UID
    public var payload: PayloadBlock
    public var receivedAtMilliseconds: Int

    public init(uid: UID, payload: PayloadBlock, receivedAtMilliseconds: Int) {
        self.uid = uid
        self.payload = payload
        self.receivedAtMilliseconds = receivedAtMilliseconds
    }

    /// The entry fields of this record alone (append more triples to pack several).
    public var fields: [(name: String, value: RedisArgument)] {
        [("uid", .string(self.uid.hex)), ("p", .bytes(PayloadBlock.wireBytes(self.payload))), ("at", .integer(self.receivedAtMilliseconds))]
    }

    /// Every record of `entry`, in order.
    /// - Throws: `MessageError` naming the entry and the first field that is missing or
    ///   malformed (an entry is taken whole or not at all).
    public static func records(in entry: StreamEntry) throws(MessageError) -> [TelemetryRecord] {
        let fields = entry.fields
        guard !fields.isEmpty else { throw MessageError(entry: entry.id, field: "uid", problem: "missing (empty entry)") }
        var records: [TelemetryRecord] = []
        records.reserveCapacity(fields.count / 3)
        var index = 0
        while index < fields.count {
            guard fields[index].name == "uid", let uid = try? UID(hex: String(decoding: fields[index].value, as: UTF8.self)) else {
                throw MessageError(entry: entry.id, field: "uid", problem: "missing or not 32 hex digits (field \(index + 1))")
            }
            guard index + 1 < fields.count, fields[index + 1].name == "p", let payload = PayloadBlock.fromWireBytes(fields[index + 1].value)
            else {
                throw MessageError(entry: entry.id, field: "p", problem: "missing or not a payload block (field \(index + 2))")
            }
            var receivedAt = 0
            var next = index + 2
            if next < fields.count, fields[next].name == "at" {
                receivedAt = Int(String(decoding: fields[next].value, as: UTF8.self)) ?? 0
                next += 1
            }
            records.append(TelemetryRecord(uid: uid, payload: payload, receivedAtMilliseconds: receivedAt))
            index = next
        }
        return records
    }
}
