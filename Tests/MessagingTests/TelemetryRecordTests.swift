import IoTSocket
import Messaging
import RedisBus
import Testing

/// Telemetry stream entries as udp-telemetry writes them (one record or several packed) and as
/// the router and remote-sync read them.
@Suite("Telemetry records on the telemetry stream")
struct TelemetryRecordTests {
    private static func entry(_ records: [TelemetryRecord]) -> StreamEntry {
        StreamEntry.written(records.flatMap(\.fields))
    }

    @Test("a packed entry gives back every record, in order")
    func packedEntry() throws {
        let records = try [
            TelemetryRecord(uid: UID("meter-1"), payload: PayloadBlock(format: .ascii, data: Array("21.5".utf8)), receivedAtMilliseconds: 1_000),
            TelemetryRecord(uid: UID("meter-2"), payload: PayloadBlock(format: .binary, data: [0, 255, 10]), receivedAtMilliseconds: 1_001),
            TelemetryRecord(uid: UID("meter-1"), payload: PayloadBlock(format: .ascii, data: Array("21.6".utf8)), receivedAtMilliseconds: 1_002),
        ]
        #expect(try TelemetryRecord.records(in: Self.entry(records)) == records)
    }

    @Test("a single-record entry, and one without a receive time")
    func singleRecord() throws {
        let record = try TelemetryRecord(uid: UID("plc"), payload: PayloadBlock(format: .ascii, data: Array("on".utf8)), receivedAtMilliseconds: 42)
        #expect(try TelemetryRecord.records(in: Self.entry([record])) == [record])
        var withoutTime = Self.entry([record])
        withoutTime.fields.removeLast()
        var expected = record
        expected.receivedAtMilliseconds = 0
        #expect(try TelemetryRecord.records(in: withoutTime) == [expected])
    }

    @Test("a malformed record refuses the whole entry, naming the field")
    func malformed() throws {
        let record = try TelemetryRecord(uid: UID("plc"), payload: PayloadBlock(format: .ascii, data: Array("on".utf8)), receivedAtMilliseconds: 42)
        var missingPayload = Self.entry([record, record])
        missingPayload.fields.remove(at: 4)  // the second record's `p`
        #expect(throws: MessageError.self) { try TelemetryRecord.records(in: missingPayload) }
        do {
            _ = try TelemetryRecord.records(in: missingPayload)
        } catch {
            #expect(error.field == "p")
        }
        var badUID = Self.entry([record])
        badUID.fields[0].value = Array("not hex".utf8)
        do {
            _ = try TelemetryRecord.records(in: badUID)
            Issue.record("a bad uid was accepted")
        } catch {
            #expect(error.field == "uid")
        }
        #expect(throws: MessageError.self) { try TelemetryRecord.records(in: StreamEntry(id: "2-0", fields: [])) }
    }
}
