import IoTSocket
import NIOCore
import Testing

@Suite("Transmissions: byte vectors")
struct TransmissionTests {
    static let objTest = padded("ObjTest")
    static let key0 = bytes("000102030405060708090A0B0C0D0E0F")
    static let keyF = [UInt8](repeating: 0xFF, count: 16)

    /// Checks both directions for one vector: writing gives `wire`, reading `wire` gives `transmission`
    /// and consumes exactly `wire`.
    private func check(_ transmission: Transmission, _ wire: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(encoded(transmission.write) == wire, sourceLocation: sourceLocation)
        #expect(transmission.wireLength == wire.count, sourceLocation: sourceLocation)
        var readBuffer = buffer(wire + [0x10])  // a Ping follows, to prove exact consumption
        #expect(try Transmission.frameLength(peekingAt: readBuffer) == wire.count, sourceLocation: sourceLocation)
        #expect(try Transmission.read(from: &readBuffer) == transmission, sourceLocation: sourceLocation)
        #expect(readBuffer.readable == [0x10], sourceLocation: sourceLocation)
        var encoder = ByteBuffer()
        try TransmissionEncoder().encode(data: transmission, out: &encoder)
        #expect(encoder.readable == wire, sourceLocation: sourceLocation)
    }

    @Test func typeTable() throws {
        let table: [(TransmissionType, UInt8, TransmissionType.UIDPresence)] = [
            (.acl, 0x0, .never), (.ping, 0x1, .never), (.pong, 0x2, .never), (.request, 0x3, .optional),
            (.response, 0x4, .optional), (.telemetryToken, 0x5, .never), (.identifiedTelemetry, 0x6, .always),
            (.close, 0xF, .never),
        ]
        #expect(TransmissionType.allCases.count == table.count)
        for (type, nibble, presence) in table {
            #expect(type.rawValue == nibble)
            #expect(type.uidPresence == presence)
            #expect(try TransmissionType(nibble: nibble) == type)
        }
    }

    @Test func aclEmpty() throws {
        try self.check(.acl([]), bytes("00 00000000"))
    }

    @Test func aclTwoEntries() throws {
        let entries = [
            ACLEntry(group: try GroupName("Sensors"), uid: try UID("ObjTest"), key: try AuthKey(bytes: Self.key0)),
            try ACLEntry(group: "G2", uid: "Obj-2", keyHex: String(repeating: "FF", count: 16)),
        ]
        let wire = bytes("00 00000002")
            + padded("Sensors") + Self.objTest + Self.key0
            + padded("G2") + padded("Obj-2") + Self.keyF
        #expect(wire.count == 5 + 2 * 48)
        try self.check(.acl(entries), wire)
    }

    @Test func pingAndPong() throws {
        try self.check(.ping, bytes("10"))
        try self.check(.pong, bytes("20"))
    }

    @Test func requestWithoutUID() throws {
        let payload = try PayloadBlock(format: .json, data: Array("{}".utf8))
        try self.check(.request(uid: nil, tracking: 0x1234, payload: payload), bytes("30 1234 A0 0002 7B 7D"))
    }

    @Test func requestWithUID() throws {
        let payload = try PayloadBlock(format: .ascii, data: Array("go".utf8))
        let wire = bytes("38") + Self.objTest + bytes("0001 10 0002 67 6F")
        try self.check(.request(uid: try UID("ObjTest"), tracking: 1, payload: payload), wire)
    }

    @Test func requestToTheCentralUIDKeepsRTE() throws {
        let wire = bytes("38") + [UInt8](repeating: 0, count: 16) + bytes("FFFF 00 0000")
        try self.check(.request(uid: .central, tracking: 0xFFFF, payload: .empty), wire)
    }

    @Test func responseWithoutUIDEveryCode() throws {
        for code in ResponseCode.known + [ResponseCode(0x42)] {
            let wire = bytes("40 0007") + [code.rawValue] + bytes("00 0000")
            try self.check(.response(uid: nil, tracking: 7, code: code, payload: .empty), wire)
        }
    }

    @Test func responseWithUID() throws {
        let payload = try PayloadBlock(format: .utf8, data: Array("é".utf8))
        let wire = bytes("48") + Self.objTest + bytes("ABCD 00 20 0002 C3 A9")
        try self.check(.response(uid: try UID("ObjTest"), tracking: 0xABCD, code: .valid, payload: payload), wire)
    }

    @Test func responseEveryPayloadFormat() throws {
        for (format, nibble) in [(PayloadFormat.binary, UInt8(0x00)), (.ascii, 0x10), (.utf8, 0x20), (.json, 0xA0)] {
            let payload = try PayloadBlock(format: format, data: Array("1".utf8))
            let wire = bytes("40 0000 A1") + [nibble] + bytes("0001 31")
            try self.check(.response(uid: nil, tracking: 0, code: .timeout, payload: payload), wire)
        }
    }

    @Test func telemetryToken() throws {
        let token = try TelemetryToken(hex: "0102030405060708")
        try self.check(.telemetryToken(token), bytes("50 0102030405060708"))
    }

    @Test func identifiedTelemetry() throws {
        let payload = try PayloadBlock(format: .binary, data: [0xDE, 0xAD])
        let wire = bytes("68") + Self.objTest + bytes("00 0002 DE AD")
        try self.check(.identifiedTelemetry(uid: try UID("ObjTest"), payload: payload), wire)
    }

    @Test func closeEveryCode() throws {
        for code in CloseCode.known + [CloseCode(0x55)] {
            try self.check(.close(code), [0xF0, code.rawValue])
        }
    }

    @Test func uidAccessorAndType() throws {
        let uid = try UID("a")
        #expect(Transmission.request(uid: uid, tracking: 1, payload: .empty).uid == uid)
        #expect(Transmission.request(uid: nil, tracking: 1, payload: .empty).uid == nil)
        #expect(Transmission.identifiedTelemetry(uid: uid, payload: .empty).type == .identifiedTelemetry)
        #expect(Transmission.close(.maintenance).uid == nil)
    }

    // MARK: Malformed headers

    @Test func unknownTypes() {
        for nibble: UInt8 in 0x7...0xE {
            var wire = buffer([nibble << 4])
            #expect(throws: IoTSocketError.unknownTransmissionType(nibble)) { try Transmission.read(from: &wire) }
            #expect(wire.readableBytes == 1)
        }
    }

    @Test func reservedBits() {
        for header: UInt8 in [0x11, 0x12, 0x14, 0x17, 0x31, 0x3C, 0xF4] {
            var wire = buffer([header] + [UInt8](repeating: 0, count: 30))
            #expect(throws: IoTSocketError.reservedHeaderBitsSet(header: header)) { try Transmission.read(from: &wire) }
        }
    }

    @Test func uidWhereNeverAllowed() {
        let cases: [(UInt8, TransmissionType)] = [
            (0x08, .acl), (0x18, .ping), (0x28, .pong), (0x58, .telemetryToken), (0xF8, .close),
        ]
        for (header, type) in cases {
            // Only the header byte: the error comes before any UID bytes are waited for.
            var wire = buffer([header])
            #expect(throws: IoTSocketError.unexpectedUID(type)) { try Transmission.read(from: &wire) }
        }
    }

    @Test func identifiedTelemetryWithoutUID() {
        var wire = buffer("60 00 0000")
        #expect(throws: IoTSocketError.missingUID(.identifiedTelemetry)) { try Transmission.read(from: &wire) }
    }

    @Test func unknownPayloadFormatFailsBeforeTheDataArrives() {
        var request = buffer("30 0001 50 FFFF")
        #expect(throws: IoTSocketError.unknownPayloadFormat(0x5)) { try Transmission.read(from: &request) }
        var response = buffer("48" + String(repeating: "00", count: 15) + "41" + "0001 00 F0")
        #expect(throws: IoTSocketError.unknownPayloadFormat(0xF)) { try Transmission.read(from: &response) }
        var telemetry = buffer("68" + String(repeating: "41", count: 16) + "B0")
        #expect(throws: IoTSocketError.unknownPayloadFormat(0xB)) { try Transmission.read(from: &telemetry) }
    }

    @Test func malformedACLEntriesNameTheirIndex() {
        let good = padded("G") + padded("U") + Self.key0
        let emptyGroup = [UInt8](repeating: 0, count: 16) + padded("U") + Self.key0
        var wire = buffer(bytes("00 00000002") + good + emptyGroup)
        #expect(throws: IoTSocketError.invalidACLEntry(index: 1, .nameEmpty(.groupName))) { try Transmission.read(from: &wire) }
        #expect(wire.readableBytes == 101)

        let badUID = padded("G") + Array(padded("").dropLast(1)) + [0xFE] + Self.key0
        var wire2 = buffer(bytes("00 00000001") + badUID)
        #expect(throws: IoTSocketError.invalidACLEntry(index: 0, .nameNotUTF8(.uid, wireBytes: Array(padded("").dropLast(1)) + [0xFE]))) {
            try Transmission.read(from: &wire2)
        }
        #expect(
            IoTSocketError.invalidACLEntry(index: 1, .nameEmpty(.groupName)).description == "ACL entry 1: group name is empty"
        )

        // The empty UID is the central's: no object can have it (PROTOCOL.md, names).
        let centralUID = padded("G") + [UInt8](repeating: 0, count: 16) + Self.key0
        var wire3 = buffer(bytes("00 00000002") + good + centralUID)
        #expect(throws: IoTSocketError.invalidACLEntry(index: 1, .nameEmpty(.uid))) { try Transmission.read(from: &wire3) }
        #expect(wire3.readableBytes == 101)
    }

    @Test func badUIDInAHeader() {
        var wire = buffer(bytes("38") + Array(repeating: 0xFF, count: 16) + bytes("0001 00 0000"))
        #expect(throws: IoTSocketError.nameNotUTF8(.uid, wireBytes: Array(repeating: 0xFF, count: 16))) {
            try Transmission.read(from: &wire)
        }
    }

    // MARK: Lengths

    @Test func frameLengthNeedsOnlyTheLengthFields() throws {
        #expect(try Transmission.frameLength(peekingAt: ByteBuffer()) == nil)
        #expect(try Transmission.frameLength(peekingAt: buffer("30 00 01 00 FF")) == nil)
        #expect(try Transmission.frameLength(peekingAt: buffer("30 0001 00 0100")) == 1 + 2 + 3 + 256)
        #expect(try Transmission.frameLength(peekingAt: buffer("40 0001 A0 00 0100")) == 1 + 3 + 3 + 256)
        #expect(try Transmission.frameLength(peekingAt: buffer(bytes("48") + Self.objTest + bytes("0001 A0 00 0005"))) == 1 + 16 + 3 + 3 + 5)
        #expect(try Transmission.frameLength(peekingAt: buffer(bytes("68") + Self.objTest)) == nil)
        #expect(try Transmission.frameLength(peekingAt: buffer("00 000000")) == nil)
        #expect(try Transmission.frameLength(peekingAt: buffer("00 00000003")) == 5 + 3 * 48)
        #expect(try Transmission.frameLength(peekingAt: buffer("00 FFFFFFFF")) == 5 + 0xFFFF_FFFF * 48)
        #expect(try Transmission.frameLength(peekingAt: buffer("50")) == 9)
        #expect(try Transmission.frameLength(peekingAt: buffer("F0")) == 2)
    }

    @Test func readLeavesIncompleteTransmissionsUntouched() throws {
        let wire = bytes("48") + Self.objTest + bytes("0102 A2 A0 0003 31 32 33")
        for cut in 0..<wire.count {
            var partial = buffer(Array(wire.prefix(cut)))
            #expect(try Transmission.read(from: &partial) == nil)
            #expect(partial.readableBytes == cut)
        }
    }

    @Test func tooLongIsRefusedBeforeTheDataIsPresent() {
        var acl = buffer("00 FFFFFFFF")
        #expect(throws: IoTSocketError.transmissionTooLong(length: 5 + 0xFFFF_FFFF * 48, maximum: 70_000)) {
            try Transmission.read(from: &acl, maximumLength: 70_000)
        }
        #expect(acl.readableBytes == 5)
        var request = buffer("30 0001 00 FFFF")
        #expect(throws: IoTSocketError.transmissionTooLong(length: 65_541, maximum: 65_540)) {
            try Transmission.read(from: &request, maximumLength: 65_540)
        }
    }

    @Test func exactlyTheMaximumIsAccepted() throws {
        var wire = buffer("30 0001 00 0002 AA BB")
        #expect(try Transmission.read(from: &wire, maximumLength: 8) != nil)
        var pingTooLong = buffer("10")
        #expect(throws: IoTSocketError.transmissionTooLong(length: 1, maximum: 0)) {
            try Transmission.read(from: &pingTooLong, maximumLength: 0)
        }
    }
}
