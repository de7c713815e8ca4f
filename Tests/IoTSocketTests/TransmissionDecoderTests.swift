import IoTSocket
import NIOCore
import Testing

@Suite("TransmissionDecoder and TransmissionEncoder")
struct TransmissionDecoderTests {
    /// One of every transmission shape, with and without UIDs.
    static func sampleTransmissions() throws -> [Transmission] {
        let uid = try UID("ObjTest")
        let key = try AuthKey(hex: "000102030405060708090a0b0c0d0e0f")
        return [
            .ping,
            .acl([]),
            .acl([ACLEntry(group: try GroupName("G"), uid: uid, key: key), ACLEntry(group: try GroupName("H"), uid: try UID("x"), key: key)]),
            .request(uid: nil, tracking: 1, payload: try PayloadBlock(format: .json, data: Array(#"{"a":1}"#.utf8))),
            .request(uid: uid, tracking: 2, payload: .empty),
            .response(uid: nil, tracking: 1, code: .valid, payload: try PayloadBlock(format: .ascii, data: Array("ok".utf8))),
            .response(uid: uid, tracking: 2, code: .timeout, payload: .empty),
            .telemetryToken(try TelemetryToken(hex: "0011223344556677")),
            .identifiedTelemetry(uid: uid, payload: try PayloadBlock(format: .binary, data: [1, 2, 3])),
            .pong,
            .close(.sleeping),
        ]
    }

    static func wire(of transmissions: [Transmission]) -> ByteBuffer {
        var wire = ByteBuffer()
        for transmission in transmissions {
            transmission.write(to: &wire)
        }
        return wire
    }

    /// Feeds `chunks` one read at a time, as a channel would, and returns what comes out.
    private func decode(_ chunks: [ByteBuffer], maximum: Int = 4096) throws -> [Transmission] {
        let processor = NIOSingleStepByteToMessageProcessor(TransmissionDecoder(maxTransmissionLength: maximum))
        var output: [Transmission] = []
        for chunk in chunks {
            try processor.process(buffer: chunk) { output.append($0) }
        }
        try processor.finishProcessing(seenEOF: true) { output.append($0) }
        return output
    }

    @Test func isAByteToMessageDecoderAndTheEncoderAMessageToByteEncoder() {
        func requireDecoder<D: ByteToMessageDecoder>(_: D) -> Bool where D.InboundOut == Transmission { true }
        func requireEncoder<E: MessageToByteEncoder>(_: E) -> Bool where E.OutboundIn == Transmission { true }
        #expect(requireDecoder(TransmissionDecoder(maxTransmissionLength: 10)))
        #expect(requireEncoder(TransmissionEncoder()))
    }

    @Test func severalTransmissionsInOneRead() throws {
        let sample = try Self.sampleTransmissions()
        #expect(try self.decode([Self.wire(of: sample)]) == sample)
    }

    @Test func everySplitPoint() throws {
        let sample = try Self.sampleTransmissions()
        let wire = Self.wire(of: sample)
        for split in 0...wire.readableBytes {
            let first = wire.getSlice(at: 0, length: split)!
            let second = wire.getSlice(at: split, length: wire.readableBytes - split)!
            #expect(try self.decode([first, second]) == sample, "split at \(split)")
        }
    }

    @Test func everyPairOfSplitPointsInAShortStream() throws {
        let uid = try UID("u")
        let sample: [Transmission] = [
            .request(uid: uid, tracking: 9, payload: try PayloadBlock(format: .utf8, data: Array("hé".utf8))),
            .ping,
            .close(.protocolError),
        ]
        let wire = Self.wire(of: sample)
        let count = wire.readableBytes
        for first in 0...count {
            for second in first...count {
                let chunks = [
                    wire.getSlice(at: 0, length: first)!,
                    wire.getSlice(at: first, length: second - first)!,
                    wire.getSlice(at: second, length: count - second)!,
                ]
                #expect(try self.decode(chunks) == sample, "splits at \(first), \(second)")
            }
        }
    }

    @Test func oneByteAtATime() throws {
        let sample = try Self.sampleTransmissions()
        let wire = Self.wire(of: sample)
        let chunks = (0..<wire.readableBytes).map { wire.getSlice(at: $0, length: 1)! }
        #expect(try self.decode(chunks) == sample)
    }

    @Test func oversizedACLRefusedFromItsCountAlone() throws {
        let processor = NIOSingleStepByteToMessageProcessor(TransmissionDecoder(maxTransmissionLength: 65_541))
        var output: [Transmission] = []
        try processor.process(buffer: buffer("10 00 FF")) { output.append($0) }
        #expect(output == [.ping])
        #expect(throws: IoTSocketError.transmissionTooLong(length: 5 + 0xFFFF_FFFF * 48, maximum: 65_541)) {
            try processor.process(buffer: buffer("FF FF FF")) { output.append($0) }
        }
    }

    @Test func oversizedPayloadRefusedFromItsLengthAlone() throws {
        let processor = NIOSingleStepByteToMessageProcessor(TransmissionDecoder(maxTransmissionLength: 1024))
        // Response with UID announcing 1,002 data bytes: 1 + 16 + 3 + 3 + 1002 = 1025 > 1024.
        let header = bytes("48") + padded("ObjTest") + bytes("0001 00 00 03EA")
        #expect(throws: IoTSocketError.transmissionTooLong(length: 1025, maximum: 1024)) {
            try processor.process(buffer: buffer(header)) { _ in }
        }
        // One byte less fits and is waited for.
        let fits = NIOSingleStepByteToMessageProcessor(TransmissionDecoder(maxTransmissionLength: 1024))
        var output: [Transmission] = []
        try fits.process(buffer: buffer(bytes("48") + padded("ObjTest") + bytes("0001 00 00 03E9"))) { output.append($0) }
        try fits.process(buffer: buffer([UInt8](repeating: 0x61, count: 1001))) { output.append($0) }
        #expect(output.count == 1)
    }

    @Test func malformedHeaderStopsTheStream() throws {
        let processor = NIOSingleStepByteToMessageProcessor(TransmissionDecoder(maxTransmissionLength: 1024))
        var output: [Transmission] = []
        #expect(throws: IoTSocketError.unknownTransmissionType(0x9)) {
            try processor.process(buffer: buffer("10 20 90 10")) { output.append($0) }
        }
        #expect(output == [.ping, .pong])
    }

    @Test func incompleteTransmissionAtEOFIsNotDelivered() throws {
        let processor = NIOSingleStepByteToMessageProcessor(TransmissionDecoder(maxTransmissionLength: 1024))
        var output: [Transmission] = []
        try processor.process(buffer: buffer("10 30 0001 00 0005 61")) { output.append($0) }
        var decoder = TransmissionDecoder(maxTransmissionLength: 1024)
        var leftover = buffer("30 0001 00 0005 61")
        #expect(try decoder.decodeLast(buffer: &leftover, seenEOF: true) == nil)
        #expect(leftover.readableBytes == 7)
        #expect(output == [.ping])
    }

    @Test func encoderWritesEachTransmission() throws {
        let sample = try Self.sampleTransmissions()
        let encoder = TransmissionEncoder()
        var out = ByteBuffer()
        for transmission in sample {
            try encoder.encode(data: transmission, out: &out)
        }
        #expect(out == Self.wire(of: sample))
    }
}
