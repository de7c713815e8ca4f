import IoTSocket
import NIOCore
import TestSupport
import Testing

@Suite("UDP telemetry datagrams")
struct TelemetryDatagramTests {
    @Test func vector() throws {
        let token = try TelemetryToken(hex: "0102030405060708")
        let datagram = TelemetryDatagram(token: token, payload: try PayloadBlock(format: .json, data: Array("[1]".utf8)))
        let wire = bytes("0102030405060708 A0 0003 5B 31 5D")
        #expect(encoded(datagram.write) == wire)
        #expect(datagram.wireLength == wire.count)
        #expect(try TelemetryDatagram(parsing: buffer(wire)) == datagram)
        #expect(TelemetryDatagram.peekToken(in: buffer(wire)) == token)
    }

    @Test func everyFormatAndOptions() throws {
        for (format, nibble) in [(PayloadFormat.binary, UInt8(0x0)), (.ascii, 0x1), (.utf8, 0x2), (.json, 0xA)] {
            let wire = bytes("FFFFFFFFFFFFFFFF") + [nibble << 4 | 0x3] + bytes("0001 41")
            let parsed = try TelemetryDatagram(parsing: buffer(wire))
            #expect(parsed.payload.format == format)
            #expect(parsed.payload.options == 0x3)
            #expect(parsed.payload.data == [0x41])
            #expect(parsed.token.rawValue == UInt64.max)
        }
    }

    @Test func emptyPayloadIsElevenBytes() throws {
        let parsed = try TelemetryDatagram(parsing: buffer("0000000000000001 00 0000"))
        #expect(parsed.payload == .empty)
        #expect(TelemetryDatagram.headerLength == 11)
    }

    @Test func respectsTheReaderIndex() throws {
        var datagram = buffer("EEEE 0000000000000001 20 0001 41")
        datagram.moveReaderIndex(forwardBy: 2)
        #expect(try TelemetryDatagram(parsing: datagram).payload.data == [0x41])
        #expect(TelemetryDatagram.peekToken(in: datagram)?.rawValue == 1)
    }

    @Test func tooShort() {
        for length in 0..<11 {
            let wire = buffer([UInt8](repeating: 0, count: length))
            #expect(throws: IoTSocketError.datagramTooShort(length: length)) { try TelemetryDatagram(parsing: wire) }
        }
        #expect(TelemetryDatagram.peekToken(in: buffer("01020304050607")) == nil)
    }

    @Test func lengthMustMatchExactly() {
        #expect(throws: IoTSocketError.datagramLengthMismatch(datagramLength: 13, expected: 14)) {
            try TelemetryDatagram(parsing: buffer("0102030405060708 00 0003 AA BB"))
        }
        #expect(throws: IoTSocketError.datagramLengthMismatch(datagramLength: 15, expected: 14)) {
            try TelemetryDatagram(parsing: buffer("0102030405060708 00 0003 AA BB CC DD"))
        }
        #expect(throws: IoTSocketError.datagramLengthMismatch(datagramLength: 11, expected: 65_546)) {
            try TelemetryDatagram(parsing: buffer("0102030405060708 00 FFFF"))
        }
    }

    @Test func unknownFormat() {
        #expect(throws: IoTSocketError.unknownPayloadFormat(0x7)) {
            try TelemetryDatagram(parsing: buffer("0102030405060708 70 0000"))
        }
    }

    /// Damaged datagrams never trap: each is refused, or parses to exactly its bytes.
    @Test func damagedDatagramsAreRefusedOrExact() throws {
        var generator = SeededGenerator(seed: 0x0DD_6A7A)
        var outcomes = (refused: 0, parsed: 0)
        for _ in 0..<20_000 {
            let datagram = TelemetryDatagram(
                token: TelemetryToken(rawValue: generator.next()), payload: try GeneratedTransmissions.payload(&generator))
            var bytes = encoded(datagram.write)
            GeneratedTransmissions.damage(&bytes, &generator)
            do {
                let parsed = try TelemetryDatagram(parsing: buffer(bytes))
                outcomes.parsed += 1
                #expect(encoded(parsed.write) == bytes, "\(bytes)")
            } catch {
                outcomes.refused += 1
            }
        }
        #expect(outcomes.refused > 1_000 && outcomes.parsed > 1_000, "\(outcomes)")
    }

    @Test func errorDescriptions() {
        #expect(IoTSocketError.datagramTooShort(length: 5).description == "telemetry datagram is 5 bytes, at least 11 are needed")
        #expect(
            IoTSocketError.datagramLengthMismatch(datagramLength: 13, expected: 14).description
                == "telemetry datagram is 13 bytes but its payload block announces 14"
        )
    }
}
