import IoTSocket
import NIOCore
import Testing

@Suite("AuthKey and TelemetryToken")
struct KeyAndTokenTests {
    @Test func authKeyFromHexIsCaseInsensitive() throws {
        let lower = try AuthKey(hex: "00112233445566778899aabbccddeeff")
        let upper = try AuthKey(hex: "00112233445566778899AABBCCDDEEFF")
        #expect(lower == upper)
        #expect(upper.hex == "00112233445566778899aabbccddeeff")
        #expect(lower.bytes == bytes("00112233445566778899aabbccddeeff"))
        #expect(encoded(lower.write) == bytes("00112233445566778899aabbccddeeff"))
        var wire = buffer("00112233445566778899aabbccddeeff 01")
        #expect(AuthKey.read(from: &wire) == lower)
        #expect(wire.readableBytes == 1)
    }

    @Test("the key fingerprint is the lowercase hex SHA-1 of its bytes, as Redis' redis.sha1hex writes it")
    func fingerprint() throws {
        // Vectors from Python's hashlib (an independent SHA-1); the second has bytes below 0x10.
        #expect(try AuthKey(hex: "000102030405060708090a0b0c0d0e0f").fingerprint == "56178b86a57fac22899a9964185c2cc96e7da589")
        #expect(try AuthKey(hex: "0f0e0d0c0b0a09080706050403020100").fingerprint == "2a372b34294309782e66f932da768e9f99d192f0")
    }

    @Test func constantTimeMatchFindsADifferenceAnywhere() throws {
        let key = try AuthKey(hex: "00112233445566778899aabbccddeeff")
        #expect(key.matchesInConstantTime(try AuthKey(hex: "00112233445566778899AABBCCDDEEFF")))
        // One bit off in the first, a middle and the last byte: each is a different key.
        for (index, bit) in [(0, UInt8(0x01)), (7, 0x80), (15, 0x10)] {
            var altered = key.bytes
            altered[index] ^= bit
            #expect(!key.matchesInConstantTime(try AuthKey(bytes: altered)), "byte \(index)")
            #expect(!(try AuthKey(bytes: altered)).matchesInConstantTime(key), "byte \(index), reversed")
        }
        #expect(!key.matchesInConstantTime(try AuthKey(hex: "ffeeddccbbaa99887766554433221100")))
    }

    @Test func authKeyHexErrorsSayWhatIsWrong() {
        #expect(throws: IoTSocketError.hexWrongLength(field: "auth key", digits: 31, expected: 32)) {
            try AuthKey(hex: "00112233445566778899aabbccddeef")
        }
        #expect(throws: IoTSocketError.hexWrongLength(field: "auth key", digits: 0, expected: 32)) {
            try AuthKey(hex: "")
        }
        #expect(throws: IoTSocketError.hexInvalidDigit(field: "auth key", character: "g", position: 5)) {
            try AuthKey(hex: "00112g33445566778899aabbccddeeff")
        }
        #expect(throws: IoTSocketError.hexInvalidDigit(field: "auth key", character: " ", position: 0)) {
            try AuthKey(hex: " 0112233445566778899aabbccddeeff")
        }
        #expect(throws: IoTSocketError.hexInvalidDigit(field: "auth key", character: "é", position: 31)) {
            try AuthKey(hex: "00112233445566778899aabbccddeefé")
        }
        #expect(
            IoTSocketError.hexInvalidDigit(field: "auth key", character: "g", position: 5).description
                == "auth key has \"g\" at position 5, expected a hex digit"
        )
    }

    @Test func authKeyBytesMustBeSixteen() {
        #expect(throws: IoTSocketError.wrongByteCount(field: "auth key", expected: 16, actual: 8)) {
            try AuthKey(bytes: [UInt8](repeating: 1, count: 8))
        }
    }

    @Test func authKeyDescriptionDoesNotLeakTheKey() throws {
        let key = try AuthKey(hex: "00112233445566778899aabbccddeeff")
        #expect(!"\(key)".contains("0011"))
    }

    @Test func telemetryTokenHexAndWire() throws {
        let token = try TelemetryToken(hex: "0123456789ABCDEF")
        #expect(token.rawValue == 0x0123_4567_89AB_CDEF)
        #expect(token.hex == "0123456789abcdef")
        #expect(token.bytes == bytes("01 23 45 67 89 ab cd ef"))
        #expect(encoded(token.write) == token.bytes)
        #expect(try TelemetryToken(bytes: token.bytes) == token)
        var wire = buffer("01 23 45 67 89 ab cd")
        #expect(TelemetryToken.read(from: &wire) == nil)
        #expect(throws: IoTSocketError.hexWrongLength(field: "telemetry token", digits: 14, expected: 16)) {
            try TelemetryToken(hex: "0123456789abcd")
        }
        #expect(throws: IoTSocketError.wrongByteCount(field: "telemetry token", expected: 8, actual: 9)) {
            try TelemetryToken(bytes: [UInt8](repeating: 0, count: 9))
        }
    }

    @Test func randomTokensAndChallengesDiffer() {
        let tokens = Set((0..<64).map { _ in TelemetryToken.random() })
        #expect(tokens.count == 64)
        let challenges = Set((0..<64).map { _ in Challenge.random() })
        #expect(challenges.count == 64)
    }
}
