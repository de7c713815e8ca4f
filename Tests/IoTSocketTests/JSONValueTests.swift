import IoTSocket
import NIOCore
import TestSupport
import Testing

@Suite("JSONValue parser and serializer")
struct JSONValueTests {
    private func parse(_ text: String) throws -> JSONValue {
        try JSONValue(parsing: text)
    }

    private func failure(_ text: String) -> JSONParseError? {
        do {
            _ = try JSONValue(parsing: text)
            return nil
        } catch {
            return error
        }
    }

    private func failure(bytes: [UInt8]) -> JSONParseError? {
        do {
            _ = try JSONValue(parsing: bytes)
            return nil
        } catch {
            return error
        }
    }

    @Test func scalars() throws {
        #expect(try self.parse("null") == .null)
        #expect(try self.parse("true") == .bool(true))
        #expect(try self.parse(" false ") == .bool(false))
        #expect(try self.parse("\"hi\"") == .string("hi"))
        #expect(try self.parse("0") == .number(0))
        #expect(try self.parse("\t\r\n-12.50e+3\n").numberValue?.literal == "-12.50e+3")
    }

    @Test func memberOrderIsKept() throws {
        let value = try self.parse(#"{"UID":"ObjTest","Payload":[1,2],"Format":"BINARY","a":{}}"#)
        #expect(value.objectMembers?.map(\.key) == ["UID", "Payload", "Format", "a"])
        #expect(value["UID"]?.stringValue == "ObjTest")
        #expect(value["Payload"]?[1]?.intValue == 2)
        #expect(value["missing"] == nil)
        #expect(value.serializedString == #"{"UID":"ObjTest","Payload":[1,2],"Format":"BINARY","a":{}}"#)
        let reordered = try self.parse(#"{"b":1,"a":2}"#)
        #expect(try reordered != self.parse(#"{"a":2,"b":1}"#))
    }

    @Test func serializationIsCompact() throws {
        let value = try self.parse(" [ 1 , { \"a\" : [ ] , \"b\" : null } , true , \"x\" ] ")
        #expect(value.serializedString == #"[1,{"a":[],"b":null},true,"x"]"#)
        let built: JSONValue = ["Code": 160, "Payload": [], "Format": "BINARY", "Ok": false, "Nothing": nil]
        #expect(built.serializedString == #"{"Code":160,"Payload":[],"Format":"BINARY","Ok":false,"Nothing":null}"#)
        #expect(JSONValue(object: [("z", 1), ("a", JSONValue(UInt8(255)))]).serializedString == #"{"z":1,"a":255}"#)
        var out = ByteBuffer()
        built.write(to: &out)
        #expect(out.readable == built.serialized())
    }

    @Test func numbersKeepTheirLiteralText() throws {
        for literal in ["0", "-0", "1", "-1", "123456789012345678901234567890", "0.5", "-0.0", "1e5", "1E+05", "2.5e-10", "10"] {
            let value = try self.parse(literal)
            #expect(value.numberValue?.literal == literal)
            #expect(value.serializedString == literal)
            #expect(JSONNumber(literal: literal) != nil)
        }
        #expect(try self.parse("42").intValue == 42)
        #expect(try self.parse("1.0").intValue == nil)
        #expect(try self.parse("1e2").intValue == nil)
        #expect(try self.parse("123456789012345678901234567890").intValue == nil)
        #expect(try self.parse("2.5").numberValue?.doubleValue == 2.5)
    }

    @Test func numberGrammarIsStrict() {
        let cases: [(String, JSONParseError.Reason, Int)] = [
            ("-", .unexpectedEnd, 1),
            ("-a", .invalidNumber, 1),
            ("1.", .unexpectedEnd, 2),
            ("1.e3", .invalidNumber, 2),
            ("1e", .unexpectedEnd, 2),
            ("1e+", .unexpectedEnd, 3),
            ("1e+x", .invalidNumber, 3),
            ("01", .trailingData, 1),
            ("-01", .trailingData, 2),
            ("+1", .unexpectedByte(UInt8(ascii: "+"), expected: "a JSON value"), 0),
            (".5", .unexpectedByte(UInt8(ascii: "."), expected: "a JSON value"), 0),
            ("1.5.2", .trailingData, 3),
            ("NaN", .unexpectedByte(UInt8(ascii: "N"), expected: "a JSON value"), 0),
            ("Infinity", .unexpectedByte(UInt8(ascii: "I"), expected: "a JSON value"), 0),
            ("0x10", .trailingData, 1),
        ]
        for (text, reason, offset) in cases {
            #expect(self.failure(text) == JSONParseError(reason, at: offset), "\(text)")
        }
        for literal in ["", " 1", "1 ", "+1", "01", "1.", ".1", "1e", "--1", "1_000"] {
            #expect(JSONNumber(literal: literal) == nil, "\(literal)")
        }
    }

    @Test func escapes() throws {
        let value = try self.parse(#""\"\\\/\b\f\n\r\t\u0041\u00e9\u20AC""#)
        #expect(value == .string("\"\\/\u{08}\u{0C}\n\r\tAé€"))
        #expect(try self.parse(#""\u0000""#) == .string("\u{0}"))
    }

    @Test func surrogatePairs() throws {
        #expect(try self.parse(#""\uD83D\uDE00""#) == .string("😀"))
        #expect(try self.parse(#""\ud834\udd1e""#) == .string("𝄞"))
        #expect(self.failure(#""\uD83D""#) == JSONParseError(.loneSurrogate(0xD83D), at: 1))
        #expect(self.failure(#""\uD83Dx""#) == JSONParseError(.loneSurrogate(0xD83D), at: 1))
        #expect(self.failure(#""a\uD83D\u0041""#) == JSONParseError(.loneSurrogate(0xD83D), at: 2))
        #expect(self.failure(#""\uDE00""#) == JSONParseError(.loneSurrogate(0xDE00), at: 1))
        #expect(self.failure(#""\uD83D\uD83D""#) == JSONParseError(.loneSurrogate(0xD83D), at: 1))
    }

    @Test func badEscapes() {
        #expect(self.failure(#""\x""#) == JSONParseError(.invalidEscape(UInt8(ascii: "x")), at: 1))
        #expect(self.failure(#""\u12G4""#) == JSONParseError(.invalidUnicodeEscape, at: 5))
        #expect(self.failure(#""\u12"#) == JSONParseError(.unexpectedEnd, at: 5))
        #expect(self.failure("\"\\") == JSONParseError(.unexpectedEnd, at: 2))
    }

    @Test func strings() throws {
        #expect(self.failure("\"a\nb\"") == JSONParseError(.controlCharacterInString(0x0A), at: 2))
        #expect(self.failure("\"abc") == JSONParseError(.unexpectedEnd, at: 4))
        #expect(self.failure("'a'") == JSONParseError(.unexpectedByte(UInt8(ascii: "'"), expected: "a JSON value"), at: 0))
        // Non-ASCII text passes through unescaped both ways; DEL needs no escape.
        let text = "Grüße 😀 \u{7F}"
        #expect(try self.parse("\"\(text)\"") == .string(text))
        #expect(JSONValue.string(text).serializedString == "\"\(text)\"")
    }

    @Test func serializerEscapesWhatItMust() throws {
        let value = JSONValue.string("q\"b\\n\nr\rt\tb\u{08}f\u{0C}c\u{01}\u{1F}/")
        #expect(value.serializedString == #""q\"b\\n\nr\rt\tb\bf\fc\u0001\u001f/""#)
        #expect(try JSONValue(parsing: value.serialized()) == value)
    }

    @Test func invalidUTF8IsRefusedWithItsOffset() throws {
        let cases: [[UInt8]] = [
            [0x22, 0x61, 0xFF, 0x22],  // never valid
            [0x22, 0x61, 0xC3, 0x22],  // truncated sequence
            [0x22, 0x61, 0xC0, 0x80, 0x22],  // overlong NUL
            [0x22, 0x61, 0xE0, 0x80, 0x80, 0x22],  // overlong 3-byte
            [0x22, 0x61, 0xED, 0xA0, 0x80, 0x22],  // encoded surrogate
            [0x22, 0x61, 0xF4, 0x90, 0x80, 0x80, 0x22],  // above U+10FFFF
            [0x22, 0x61, 0x80, 0x22],  // lone continuation
        ]
        for input in cases {
            #expect(self.failure(bytes: input) == JSONParseError(.invalidUTF8, at: 2), "\(input)")
        }
        #expect(self.failure(bytes: [0xEF, 0xBB, 0xBF, 0x31]) == JSONParseError(.unexpectedByte(0xEF, expected: "a JSON value"), at: 0))
        #expect(try JSONValue(parsing: [0x22, 0xF0, 0x9F, 0x98, 0x80, 0x22] as [UInt8]) == .string("😀"))
    }

    @Test func structureErrors() {
        #expect(self.failure("") == JSONParseError(.unexpectedEnd, at: 0))
        #expect(self.failure("   ") == JSONParseError(.unexpectedEnd, at: 3))
        #expect(self.failure("[1,]") == JSONParseError(.unexpectedByte(UInt8(ascii: "]"), expected: "a JSON value"), at: 3))
        #expect(self.failure("[1 2]") == JSONParseError(.unexpectedByte(UInt8(ascii: "2"), expected: "',' or ']'"), at: 3))
        #expect(self.failure(#"{"a":1,}"#) == JSONParseError(.unexpectedByte(UInt8(ascii: "}"), expected: "a string key"), at: 7))
        #expect(self.failure(#"{"a" 1}"#) == JSONParseError(.unexpectedByte(UInt8(ascii: "1"), expected: "':'"), at: 5))
        #expect(self.failure(#"{"a":1"#) == JSONParseError(.unexpectedEnd, at: 6))
        #expect(self.failure(#"{a:1}"#) == JSONParseError(.unexpectedByte(UInt8(ascii: "a"), expected: "a string key"), at: 1))
        #expect(self.failure("tru") == JSONParseError(.unexpectedEnd, at: 3))
        #expect(self.failure("nul1") == JSONParseError(.unexpectedByte(UInt8(ascii: "1"), expected: "\"null\""), at: 3))
        #expect(self.failure("true false") == JSONParseError(.trailingData, at: 5))
        #expect(self.failure("{} // c") == JSONParseError(.trailingData, at: 3))
        #expect(self.failure(#"{"a":1,"a":2}"#) == JSONParseError(.duplicateKey("a"), at: 7))
    }

    @Test func nestingDepthIsLimited() throws {
        let deepest = String(repeating: "[", count: 128) + String(repeating: "]", count: 128)
        #expect(try self.parse(deepest).arrayValue?.count == 1)
        let tooDeep = String(repeating: "[", count: 129) + String(repeating: "]", count: 129)
        #expect(self.failure(tooDeep) == JSONParseError(.nestingTooDeep(limit: 128), at: 128))
        // Hostile input far deeper than any stack could take is refused just the same.
        let hostile = String(repeating: #"{"a":["#, count: 100_000)
        #expect(self.failure(hostile)?.reason == .nestingTooDeep(limit: 128))
        #expect(throws: JSONParseError(.nestingTooDeep(limit: 2), at: 2)) { try JSONValue(parsing: "[[[]]]", maximumDepth: 2) }
        #expect(try JSONValue(parsing: "[[]]", maximumDepth: 2) == [[]])
    }

    /// Damaged bodies (the shapes centrals send, with bytes changed, cut or added) never trap:
    /// each is refused with an offset inside the input, or parses to a value that survives its
    /// own serialization.
    @Test func damagedDocumentsAreRefusedOrSurviveTheirSerialization() throws {
        let documents = [
            #"{"UID": "Echo-1", "Timeout": 30, "Format": "JSON", "Payload": {"get": ["t", "h"], "n": -1.5e3}}"#,
            #"[{"GroupName": "Meters", "UID": "Pump 7", "AuthKey": "0f0e0d0c0b0a09080706050403020100"}]"#,
            #"{"UID": "é\u00e9\ud83d\ude00", "Format": "BINARY", "Payload": [0, 255, 16], "x": [true, false, null]}"#,
        ].map { Array($0.utf8) }
        var generator = SeededGenerator(seed: 0x150_D4A3)
        var outcomes = (refused: 0, parsed: 0)
        for round in 0..<20_000 {
            var bytes = documents[round % documents.count]
            GeneratedTransmissions.damage(&bytes, &generator)
            do {
                let value = try JSONValue(parsing: bytes)
                outcomes.parsed += 1
                #expect(try JSONValue(parsing: value.serializedString) == value, "\(String(decoding: bytes, as: UTF8.self))")
            } catch {
                outcomes.refused += 1
                #expect(error.offset <= bytes.count, "\(error)")
            }
        }
        #expect(outcomes.refused > 1_000 && outcomes.parsed > 1_000, "\(outcomes)")
    }

    @Test func parsesFromAByteBufferWithoutConsumingIt() throws {
        var body = ByteBuffer(string: "xx")
        body.moveReaderIndex(forwardBy: 2)
        body.writeString(#"{"UID":"a"}"#)
        #expect(try JSONValue(parsing: body)["UID"] == "a")
        #expect(body.readableBytes == 11)
    }

    @Test func errorDescriptionNamesTheOffset() {
        #expect(
            JSONParseError(.unexpectedByte(UInt8(ascii: "]"), expected: "a JSON value"), at: 3).description
                == "invalid JSON: unexpected ']', expected a JSON value at byte 3"
        )
        #expect(JSONParseError(.invalidUTF8, at: 9).description == "invalid JSON: invalid UTF-8 at byte 9")
    }

    @Test func accessors() throws {
        let value = try self.parse(#"{"s":"x","b":true,"n":7,"a":[null],"o":{}}"#)
        #expect(value["s"]?.stringValue == "x")
        #expect(value["b"]?.boolValue == true)
        #expect(value["n"]?.intValue == 7)
        #expect(value["a"]?[0]?.isNull == true)
        #expect(value["a"]?[1] == nil)
        #expect(value["o"]?.objectMembers?.isEmpty == true)
        #expect(value["s"]?.intValue == nil)
        #expect(value[0] == nil)
        #expect(value.kindDescription == "an object")
    }
}
