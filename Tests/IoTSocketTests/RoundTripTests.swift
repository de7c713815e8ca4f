import IoTSocket
import NIOCore
import TestSupport
import Testing

@Suite("Round trips of generated values")
struct RoundTripTests {
    @Test func generatedStreamsDecodeToWhatWasEncoded() throws {
        var generator = SeededGenerator(seed: 0x1017_50C4)
        for _ in 0..<200 {
            let sample = try (0..<Int.random(in: 1...8, using: &generator)).map { _ in try GeneratedTransmissions.transmission(&generator) }
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

    /// Damaged frames (what a noisy link or a buggy device sends) never trap, and each outcome is
    /// exact: a malformation error with nothing consumed, "incomplete" only when the announced
    /// length is not all there, or a transmission that is exactly the bytes it consumed.
    @Test func damagedFramesFailCleanlyOrDecodeToExactlyTheirBytes() throws {
        var generator = SeededGenerator(seed: 0xBAD_F4A3E)
        var outcomes = (refused: 0, incomplete: 0, decoded: 0)
        for _ in 0..<20_000 {
            let bytes = try GeneratedTransmissions.damagedFrame(&generator)
            var buffer = ByteBuffer(bytes: bytes)
            do {
                if let transmission = try Transmission.read(from: &buffer, maximumLength: 4096) {
                    outcomes.decoded += 1
                    let consumed = Array(bytes.prefix(bytes.count - buffer.readableBytes))
                    #expect(transmission.wireBytes == consumed, "\(bytes) decoded as \(transmission)")
                } else {
                    outcomes.incomplete += 1
                    #expect(buffer.readableBytes == bytes.count)
                    let announced = try Transmission.frameLength(peekingAt: buffer)
                    #expect(announced.map { $0 > bytes.count } ?? true, "\(bytes): complete but not decoded")
                }
            } catch {
                outcomes.refused += 1
                #expect(buffer.readableBytes == bytes.count, "\(bytes): an error after consuming bytes")
            }
        }
        // The mutations reach every outcome (a generator that only produced garbage would not
        // test the decoding of near-valid frames).
        #expect(outcomes.refused > 1_000 && outcomes.incomplete > 1_000 && outcomes.decoded > 1_000, "\(outcomes)")
    }

    @Test func generatedPayloadsSurviveTheirJSONForm() throws {
        var generator = SeededGenerator(seed: 42)
        for _ in 0..<200 {
            var block = try GeneratedTransmissions.payload(&generator)
            // JSON form carries no options, and only data valid for the format.
            switch block.format {
            case .binary: block = try PayloadBlock(format: .binary, data: block.data)
            case .ascii: block = try PayloadBlock(format: .ascii, data: block.data.map { $0 & 0x7F })
            case .utf8: block = try PayloadBlock(format: .utf8, data: Array(GeneratedTransmissions.name(&generator).utf8))
            case .json: block = try PayloadBlock(format: .json, data: Array(#"{"k":[1,"é",null]}"#.utf8))
            }
            let json = try block.jsonPayload()
            let text = json.serialized()
            #expect(try PayloadBlock(jsonPayload: JSONValue(parsing: text), format: block.format) == block)
        }
    }
}
