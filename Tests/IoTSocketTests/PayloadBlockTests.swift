import IoTSocket
import NIOCore
import Testing

@Suite("PayloadBlock and PayloadFormat")
struct PayloadBlockTests {
    /// Every format of the table: (format, nibble, name).
    static let formats: [(PayloadFormat, UInt8, String)] = [
        (.binary, 0x0, "BINARY"), (.ascii, 0x1, "ASCII"), (.utf8, 0x2, "UTF8"), (.json, 0xA, "JSON"),
    ]

    @Test func formatTable() throws {
        #expect(PayloadFormat.allCases.count == Self.formats.count)
        for (format, nibble, name) in Self.formats {
            #expect(format.rawValue == nibble)
            #expect(format.name == name)
            #expect(PayloadFormat(name: name) == format)
            #expect(try PayloadFormat(nibble: nibble) == format)
        }
        #expect(PayloadFormat(name: "json") == nil)
        for nibble: UInt8 in [0x3, 0x4, 0x5, 0x6, 0x7, 0x8, 0x9, 0xB, 0xC, 0xD, 0xE, 0xF] {
            #expect(throws: IoTSocketError.unknownPayloadFormat(nibble)) { try PayloadFormat(nibble: nibble) }
        }
    }

    @Test func binaryVector() throws {
        let block = try PayloadBlock(format: .binary, data: [0x00, 0xFF, 0x10])
        #expect(encoded(block.write) == bytes("00 0003 00 FF 10"))
        #expect(block.wireLength == 6)
    }

    @Test func asciiVector() throws {
        let block = try PayloadBlock(format: .ascii, data: Array("Hi".utf8))
        #expect(encoded(block.write) == bytes("10 0002 48 69"))
    }

    @Test func utf8Vector() throws {
        let block = try PayloadBlock(format: .utf8, data: Array("é".utf8))
        #expect(encoded(block.write) == bytes("20 0002 C3 A9"))
    }

    @Test func jsonVector() throws {
        let block = try PayloadBlock(format: .json, data: Array("{}".utf8))
        #expect(encoded(block.write) == bytes("A0 0002 7B 7D"))
    }

    @Test func optionsShareTheFirstByte() throws {
        let block = try PayloadBlock(format: .json, options: 0x5, data: [])
        #expect(encoded(block.write) == bytes("A5 0000"))
        var wire = buffer("A5 0000")
        #expect(try PayloadBlock.read(from: &wire) == block)
        #expect(throws: IoTSocketError.payloadOptionsOutOfRange(0x10)) {
            try PayloadBlock(format: .binary, options: 0x10, data: [])
        }
    }

    @Test func emptyBlockIsBinaryOfLengthZero() {
        #expect(encoded(PayloadBlock.empty.write) == bytes("00 0000"))
    }

    @Test func maximumLength() throws {
        let largest = try PayloadBlock(format: .binary, data: [UInt8](repeating: 7, count: 65_535))
        let wire = encoded(largest.write)
        #expect(Array(wire.prefix(3)) == bytes("00 FFFF"))
        #expect(wire.count == 65_538)
        #expect(throws: IoTSocketError.payloadTooLong(length: 65_536)) {
            try PayloadBlock(format: .binary, data: [UInt8](repeating: 7, count: 65_536))
        }
    }

    @Test func readRoundTripsEveryFormat() throws {
        for (format, _, _) in Self.formats {
            let block = try PayloadBlock(format: format, data: Array("x1".utf8))
            var wire = ByteBuffer()
            block.write(to: &wire)
            wire.writeInteger(UInt8(0xEE))
            #expect(try PayloadBlock.read(from: &wire) == block)
            #expect(wire.readable == [0xEE])
        }
    }

    @Test func readWaitsForTheWholeBlock() throws {
        let full = bytes("20 0003 61 62 63")
        for cut in 0..<full.count {
            var partial = buffer(Array(full.prefix(cut)))
            #expect(try PayloadBlock.read(from: &partial) == nil)
            #expect(partial.readableBytes == cut)
        }
    }

    @Test func unknownFormatIsAnErrorAndReadsNothing() {
        var wire = buffer("30 0001 00")
        #expect(throws: IoTSocketError.unknownPayloadFormat(0x3)) { try PayloadBlock.read(from: &wire) }
        #expect(wire.readableBytes == 4)
    }
}
