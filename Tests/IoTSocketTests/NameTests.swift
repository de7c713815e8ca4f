import IoTSocket
import NIOCore
import Testing

@Suite("UID and GroupName")
struct NameTests {
    @Test("\"ObjTest\" is 9 × 0x00 + \"ObjTest\" (the protocol's example)")
    func objTestExample() throws {
        let uid = try UID("ObjTest")
        let expected = bytes("00 00 00 00 00 00 00 00 00 4F 62 6A 54 65 73 74")
        #expect(uid.wireBytes == expected)
        #expect(encoded(uid.write) == expected)
        #expect(try UID(wireBytes: expected) == uid)
        #expect(try UID(wireBytes: expected).string == "ObjTest")
        #expect(try GroupName("ObjTest").wireBytes == expected)
    }

    @Test func sixteenByteNameHasNoPadding() throws {
        let uid = try UID("0123456789ABCDEF")
        #expect(uid.wireBytes == Array("0123456789ABCDEF".utf8))
        #expect(try UID(wireBytes: uid.wireBytes).string == "0123456789ABCDEF")
    }

    @Test func longerThanSixteenBytesIsRefusedNotTruncated() {
        #expect(throws: IoTSocketError.nameTooLong(.uid, byteCount: 17)) { try UID("0123456789ABCDEFG") }
        #expect(throws: IoTSocketError.nameTooLong(.groupName, byteCount: 17)) { try GroupName("0123456789ABCDEFG") }
    }

    @Test func lengthCountsUTF8BytesNotCharacters() throws {
        let eight = String(repeating: "é", count: 8)
        let uid = try UID(eight)
        #expect(uid.wireBytes == Array(repeating: [0xC3, 0xA9], count: 8).flatMap { $0 })
        #expect(try UID(wireBytes: uid.wireBytes).string == eight)
        #expect(throws: IoTSocketError.nameTooLong(.uid, byteCount: 18)) {
            try UID(String(repeating: "é", count: 9))
        }
    }

    @Test func emptyIsOnlyTheCentral() throws {
        #expect(throws: IoTSocketError.nameEmpty(.uid)) { try UID("") }
        #expect(throws: IoTSocketError.nameEmpty(.groupName)) { try GroupName("") }
        #expect(UID.central.isCentral)
        #expect(UID.central.string == "")
        #expect(UID.central.wireBytes == [UInt8](repeating: 0, count: 16))
        #expect(try UID(wireBytes: [UInt8](repeating: 0, count: 16)) == .central)
        #expect(try !UID("a").isCentral)
        #expect(throws: IoTSocketError.nameEmpty(.groupName)) {
            try GroupName(wireBytes: [UInt8](repeating: 0, count: 16))
        }
    }

    @Test func invalidUTF8FromTheWireIsATypedError() {
        let wire = padded("").dropLast(2) + [0xC3, 0x28]
        #expect(throws: IoTSocketError.nameNotUTF8(.uid, wireBytes: Array(wire))) { try UID(wireBytes: wire) }
        let lone = Array(padded("").dropLast(1)) + [0xFF]
        #expect(throws: IoTSocketError.nameNotUTF8(.groupName, wireBytes: lone)) { try GroupName(wireBytes: lone) }
        // An encoded surrogate (ED A0 80) is not UTF-8 either.
        let surrogate = Array(padded("").dropLast(3)) + [0xED, 0xA0, 0x80]
        #expect(throws: IoTSocketError.nameNotUTF8(.uid, wireBytes: surrogate)) { try UID(wireBytes: surrogate) }
    }

    @Test func nulInsideANameIsRefused() {
        let wire = Array(padded("").dropLast(3)) + [0x61, 0x00, 0x62]
        #expect(throws: IoTSocketError.nameContainsNull(.uid)) { try UID(wireBytes: wire) }
        #expect(throws: IoTSocketError.nameContainsNull(.uid)) { try UID("\u{0}ab") }
        #expect(throws: IoTSocketError.nameContainsNull(.groupName)) { try GroupName("a\u{0}b") }
    }

    @Test func wireFormMustBeSixteenBytes() {
        #expect(throws: IoTSocketError.wrongByteCount(field: "UID", expected: 16, actual: 15)) {
            try UID(wireBytes: [UInt8](repeating: 0x41, count: 15))
        }
        #expect(throws: IoTSocketError.wrongByteCount(field: "group name", expected: 16, actual: 17)) {
            try GroupName(wireBytes: [UInt8](repeating: 0x41, count: 17))
        }
    }

    @Test func readNeedsSixteenBytesAndLeavesTheBufferOnError() throws {
        var short = buffer(padded("ab").dropLast(1))
        #expect(try UID.read(from: &short) == nil)
        #expect(short.readableBytes == 15)

        var bad = buffer(Array(padded("").dropLast(1)) + [0xFF] + [0x42])
        #expect(throws: IoTSocketError.self) { try UID.read(from: &bad) }
        #expect(bad.readableBytes == 17)

        var good = buffer(padded("Grp") + [0x42])
        #expect(try GroupName.read(from: &good) == GroupName("Grp"))
        #expect(good.readable == [0x42])
    }

    @Test func equalityAndHashingFollowTheWireForm() throws {
        let set: Set<UID> = [try UID("a"), try UID("a"), try UID("b"), .central]
        #expect(set.count == 3)
        #expect(try UID("a") != UID("A"))
        #expect(try GroupName("g") == GroupName(wireBytes: padded("g")))
    }

    @Test func hexFormOfTheWireBytes() throws {
        let uid = try UID("ObjTest")
        #expect(uid.hex == "000000000000000000" + "4f626a54657374")
        #expect(try UID(hex: uid.hex) == uid)
        #expect(try UID(hex: String(repeating: "0", count: 32)) == .central)
        #expect(throws: IoTSocketError.hexWrongLength(field: "UID", digits: 2, expected: 32)) { try UID(hex: "00") }
        #expect(throws: IoTSocketError.nameNotUTF8(.uid, wireBytes: [UInt8](repeating: 0xFF, count: 16))) {
            try UID(hex: String(repeating: "ff", count: 16))
        }
    }

    @Test func descriptions() throws {
        #expect(try UID("ObjTest").description == "ObjTest")
        #expect(UID.central.description == "(central)")
        #expect(try GroupName("Sensors").description == "Sensors")
        #expect(IoTSocketError.nameTooLong(.uid, byteCount: 17).description == "UID is 17 UTF-8 bytes long, at most 16 are allowed")
    }
}
