import IoTSocket
import NIOCore
import Testing

/// A small deterministic generator (SplitMix64) so that failures are reproducible.
private struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var value = self.state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}

@Suite("Round trips of generated values")
struct RoundTripTests {
    private static func name(_ generator: inout SeededGenerator) -> String {
        let alphabet = Array("abcXYZ019-_.éü😀")
        var name = ""
        let length = Int.random(in: 1...6, using: &generator)
        for _ in 0..<length {
            let candidate = name + String(alphabet.randomElement(using: &generator)!)
            if candidate.utf8.count <= 16 { name = candidate }
        }
        return name.isEmpty ? "n" : name
    }

    private static func payload(_ generator: inout SeededGenerator) throws -> PayloadBlock {
        let format = PayloadFormat.allCases.randomElement(using: &generator)!
        let length = Int.random(in: 0...40, using: &generator)
        let data = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return try PayloadBlock(format: format, options: UInt8.random(in: 0...15, using: &generator), data: data)
    }

    private static func transmission(_ generator: inout SeededGenerator) throws -> Transmission {
        let uid = Bool.random(using: &generator) ? try UID(self.name(&generator)) : nil
        switch Int.random(in: 0..<8, using: &generator) {
        case 0:
            let count = Int.random(in: 0...3, using: &generator)
            return .acl(try (0..<count).map { _ in
                ACLEntry(
                    group: try GroupName(self.name(&generator)),
                    uid: try UID(self.name(&generator)),
                    key: try AuthKey(bytes: (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) })
                )
            })
        case 1: return .ping
        case 2: return .pong
        case 3: return .request(uid: uid, tracking: .random(in: 0...UInt16.max, using: &generator), payload: try self.payload(&generator))
        case 4:
            return .response(
                uid: uid,
                tracking: .random(in: 0...UInt16.max, using: &generator),
                code: ResponseCode(.random(in: 0...255, using: &generator)),
                payload: try self.payload(&generator)
            )
        case 5: return .telemetryToken(TelemetryToken(rawValue: generator.next()))
        case 6: return .identifiedTelemetry(uid: try UID(self.name(&generator)), payload: try self.payload(&generator))
        default: return .close(CloseCode(.random(in: 0...255, using: &generator)))
        }
    }

    @Test func generatedStreamsDecodeToWhatWasEncoded() throws {
        var generator = SeededGenerator(state: 0x1017_50C4)
        for _ in 0..<200 {
            let sample = try (0..<Int.random(in: 1...8, using: &generator)).map { _ in try Self.transmission(&generator) }
            var wire = ByteBuffer()
            for transmission in sample { transmission.write(to: &wire) }
            #expect(wire.readableBytes == sample.map(\.wireLength).reduce(0, +))

            // Cut the stream at random places, as TCP would.
            let processor = NIOSingleStepByteToMessageProcessor(TransmissionDecoder(maxTransmissionLength: 4096))
            var decoded: [Transmission] = []
            while wire.readableBytes > 0 {
                let chunk = wire.readSlice(length: Int.random(in: 1...wire.readableBytes, using: &generator))!
                try processor.process(buffer: chunk) { decoded.append($0) }
            }
            #expect(decoded == sample)
        }
    }

    @Test func generatedPayloadsSurviveTheirJSONForm() throws {
        var generator = SeededGenerator(state: 42)
        for _ in 0..<200 {
            var block = try Self.payload(&generator)
            // JSON form carries no options, and only data valid for the format.
            switch block.format {
            case .binary: block = try PayloadBlock(format: .binary, data: block.data)
            case .ascii: block = try PayloadBlock(format: .ascii, data: block.data.map { $0 & 0x7F })
            case .utf8: block = try PayloadBlock(format: .utf8, data: Array(Self.name(&generator).utf8))
            case .json: block = try PayloadBlock(format: .json, data: Array(#"{"k":[1,"é",null]}"#.utf8))
            }
            let json = try block.jsonPayload()
            let text = json.serialized()
            #expect(try PayloadBlock(jsonPayload: JSONValue(parsing: text), format: block.format) == block)
        }
    }
}
