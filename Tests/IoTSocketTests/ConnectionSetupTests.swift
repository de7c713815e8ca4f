import IoTSocket
import NIOCore
import Testing

@Suite("Connection set-up")
struct ConnectionSetupTests {
    // MARK: Initiation

    @Test func initiationWithoutTLSAndNoStatedMaximum() throws {
        let initiation = Initiation(tls: false)
        #expect(encoded(initiation.write) == bytes("01 00 0000"))
        var wire = buffer("01 00 0000")
        let read = try #require(Initiation.read(from: &wire))
        #expect(read == initiation)
        #expect(read.version == 1)
        #expect(!read.tls)
        #expect(read.statedMaxTransmissionLength == nil)
        #expect(wire.readableBytes == 0)
    }

    @Test func initiationWithTLSOptionsAndMaximum() throws {
        let initiation = Initiation(tls: true, options: 0x5A, maxTransmissionLength: 0x1000)
        #expect(encoded(initiation.write) == bytes("81 5A 1000"))
        var wire = buffer("81 5A 1000")
        let read = try #require(Initiation.read(from: &wire))
        #expect(read.tls)
        #expect(read.version == 1)
        #expect(read.options == 0x5A)
        #expect(read.statedMaxTransmissionLength == 4096)
    }

    @Test func initiationKeepsOtherVersionsForTheConcentratorToRefuse() throws {
        var wire = buffer("FF 00 FFFF")
        let read = try #require(Initiation.read(from: &wire))
        #expect(read == Initiation(tls: true, version: 0x7F, maxTransmissionLength: 0xFFFF))
        var short = buffer("01 00 00")
        #expect(Initiation.read(from: &short) == nil)
        #expect(short.readableBytes == 3)
    }

    // MARK: Initiation response

    @Test func responseOK() throws {
        #expect(encoded(InitiationResponse.accepted.write) == bytes("80 00"))
        var wire = buffer("80 00")
        #expect(try InitiationResponse.read(from: &wire) == .accepted)
        #expect(InitiationResponse.accepted.wireLength == 2)
    }

    @Test func responseRefused() throws {
        #expect(encoded(InitiationResponse.refused.write) == bytes("00 00"))
        var wire = buffer("00 00")
        let read = try #require(try InitiationResponse.read(from: &wire))
        #expect(!read.ok)
        #expect(read.rule == .none)
    }

    @Test func responseKeepsRuleFlags() throws {
        let response = try InitiationResponse(ok: true, ruleFlags: 0x42)
        #expect(encoded(response.write) == bytes("80 42"))
    }

    @Test func responseRedirect() throws {
        let response = try InitiationResponse(ok: true, rule: .redirect(host: "gw2.example", port: 50505))
        // 0x81, flags, length 11, "gw2.example", port 0xC549.
        let wire = bytes("81 00 0B 67 77 32 2E 65 78 61 6D 70 6C 65 C5 49")
        #expect(encoded(response.write) == wire)
        #expect(response.wireLength == wire.count)
        var readBuffer = buffer(wire + [0x99])
        #expect(try InitiationResponse.read(from: &readBuffer) == response)
        #expect(readBuffer.readable == [0x99])
        for cut in 0..<wire.count {
            var partial = buffer(Array(wire.prefix(cut)))
            #expect(try InitiationResponse.read(from: &partial) == nil)
            #expect(partial.readableBytes == cut)
        }
    }

    @Test func responseRedirectRefusedByOKBit() throws {
        let response = try InitiationResponse(ok: false, rule: .redirect(host: "h", port: 1))
        #expect(encoded(response.write) == bytes("01 00 01 68 0001"))
    }

    @Test func responseErrors() throws {
        var unknown = buffer("82 00 00")
        #expect(throws: IoTSocketError.unknownInitiationRule(0x02)) { try InitiationResponse.read(from: &unknown) }
        #expect(unknown.readableBytes == 3)
        var badHost = buffer("81 00 01 FF 0001")
        #expect(throws: IoTSocketError.redirectHostNotUTF8(wireBytes: [0xFF])) { try InitiationResponse.read(from: &badHost) }
        let longHost = String(repeating: "h", count: 256)
        #expect(throws: IoTSocketError.redirectHostTooLong(byteCount: 256)) {
            try InitiationResponse(ok: true, rule: .redirect(host: longHost, port: 1))
        }
        let longest = try InitiationResponse(ok: true, rule: .redirect(host: String(repeating: "h", count: 255), port: 1))
        #expect(encoded(longest.write).count == 2 + 1 + 255 + 2)
    }

    // MARK: Challenge and answer

    @Test func challengeIsSixteenBytes() throws {
        let challenge = try Challenge(bytes: bytes("101112131415161718191A1B1C1D1E1F"))
        #expect(encoded(challenge.write) == bytes("101112131415161718191A1B1C1D1E1F"))
        var wire = buffer("101112131415161718191A1B1C1D1E1F")
        #expect(Challenge.read(from: &wire) == challenge)
        #expect(throws: IoTSocketError.wrongByteCount(field: "challenge", expected: 16, actual: 4)) {
            try Challenge(bytes: [1, 2, 3, 4])
        }
        #expect(Challenge.random().bytes.count == 16)
    }

    /// HMAC-SHA256(key 00…0F, message 10…1F), computed independently with Python:
    /// `hmac.new(bytes(range(16)), bytes(range(16, 32)), hashlib.sha256).hexdigest()`.
    static let knownMAC = "e76b9e0fe4021d62ea97745ef43c654dc14698aa799acb9ccc3e7f2a2b41a19e"

    @Test func challengeAnswerKnownAnswer() throws {
        let key = try AuthKey(hex: "000102030405060708090a0b0c0d0e0f")
        let challenge = try Challenge(bytes: Array(16..<32))
        let uid = try UID("ObjTest")
        let answer = ChallengeAnswer(uid: uid, key: key, challenge: challenge)
        #expect(answer.mac == bytes(Self.knownMAC))
        let wire = padded("ObjTest") + bytes(Self.knownMAC)
        #expect(encoded(answer.write) == wire)
        #expect(wire.count == ChallengeAnswer.wireLength)

        var readBuffer = buffer(wire)
        let read = try #require(try ChallengeAnswer.read(from: &readBuffer))
        #expect(read.uid == uid)
        #expect(read.isValid(for: key, challenge: challenge))
    }

    @Test func challengeAnswerRejectsWrongKeyChallengeOrMAC() throws {
        let key = try AuthKey(hex: "000102030405060708090a0b0c0d0e0f")
        let otherKey = try AuthKey(hex: "000102030405060708090a0b0c0d0e0e")
        let challenge = try Challenge(bytes: Array(16..<32))
        let answer = try ChallengeAnswer(uid: .central, mac: bytes(Self.knownMAC))
        #expect(answer.isValid(for: key, challenge: challenge))
        #expect(!answer.isValid(for: otherKey, challenge: challenge))
        #expect(!answer.isValid(for: key, challenge: try Challenge(bytes: Array(17..<33))))
        var flipped = bytes(Self.knownMAC)
        flipped[31] ^= 0x01
        #expect(!(try ChallengeAnswer(uid: .central, mac: flipped)).isValid(for: key, challenge: challenge))
        #expect(throws: IoTSocketError.wrongByteCount(field: "challenge answer MAC", expected: 32, actual: 31)) {
            try ChallengeAnswer(uid: .central, mac: flipped.dropLast())
        }
    }

    @Test func centralAnswersWithTheEmptyUID() throws {
        var wire = buffer([UInt8](repeating: 0, count: 16) + bytes(Self.knownMAC))
        let read = try #require(try ChallengeAnswer.read(from: &wire))
        #expect(read.uid.isCentral)
    }

    @Test func challengeAnswerNeedsFortyEightBytes() throws {
        let wire = padded("ObjTest") + bytes(Self.knownMAC)
        var partial = buffer(Array(wire.prefix(47)))
        #expect(try ChallengeAnswer.read(from: &partial) == nil)
        #expect(partial.readableBytes == 47)
        var badUID = buffer(Array(repeating: 0xFF, count: 16) + bytes(Self.knownMAC))
        #expect(throws: IoTSocketError.self) { try ChallengeAnswer.read(from: &badUID) }
        #expect(badUID.readableBytes == 48)
    }

    // MARK: Validation

    @Test func validationBytes() throws {
        #expect(encoded(Validation.accepted.write) == [0x01])
        #expect(encoded(Validation.refused.write) == [0x00])
        var accepted = buffer("01")
        #expect(try Validation.read(from: &accepted) == .accepted)
        var refused = buffer("00")
        #expect(try Validation.read(from: &refused) == .refused)
        var empty = ByteBuffer()
        #expect(try Validation.read(from: &empty) == nil)
        for byte in UInt8(2)...UInt8(255) {
            var other = buffer([byte])
            #expect(throws: IoTSocketError.invalidValidationByte(byte)) { try Validation.read(from: &other) }
        }
    }
}
