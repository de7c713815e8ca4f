import IoTSocket
import Testing

@Suite("Payload ⇄ JSON by Format")
struct PayloadJSONConversionTests {
    private func block(_ json: String, _ format: PayloadFormat) throws -> PayloadBlock {
        try PayloadBlock(jsonPayload: JSONValue(parsing: json), format: format)
    }

    private func conversionError(_ json: String, _ format: PayloadFormat) throws -> PayloadConversionError? {
        let value = try JSONValue(parsing: json)
        do {
            _ = try PayloadBlock(jsonPayload: value, format: format)
            return nil
        } catch {
            return error
        }
    }

    @Test func jsonFormatCarriesAnyValueCompactly() throws {
        let block = try self.block(#" { "t" : [ 1.50, true ] , "u" : null } "#, .json)
        #expect(block.format == .json)
        #expect(block.data == Array(#"{"t":[1.50,true],"u":null}"#.utf8))
        #expect(try block.jsonPayload() == JSONValue(parsing: #"{"t":[1.50,true],"u":null}"#))
        #expect(try self.block("\"text\"", .json).data == Array("\"text\"".utf8))
        #expect(try self.block("12", .json).data == Array("12".utf8))
    }

    @Test func asciiFormatIsAStringOfASCII() throws {
        let block = try self.block(#""Hello\u007F""#, .ascii)
        #expect(block.data == Array("Hello".utf8) + [0x7F])
        #expect(try block.jsonPayload() == .string("Hello\u{7F}"))
        #expect(try self.conversionError(#""abé""#, .ascii) == .nonASCII(byteOffset: 2, byte: 0xC3))
        #expect(try self.conversionError("[65]", .ascii) == .wrongJSONKind(format: .ascii, found: "an array"))
        let stored = try PayloadBlock(format: .ascii, data: [0x41, 0x80])
        #expect(throws: PayloadConversionError.nonASCII(byteOffset: 1, byte: 0x80)) { try stored.jsonPayload() }
    }

    @Test func utf8FormatIsAString() throws {
        let block = try self.block(#""Grüße \uD83D\uDE00""#, .utf8)
        #expect(block.data == Array("Grüße 😀".utf8))
        #expect(try block.jsonPayload() == .string("Grüße 😀"))
        #expect(try self.conversionError("{}", .utf8) == .wrongJSONKind(format: .utf8, found: "an object"))
        let stored = try PayloadBlock(format: .utf8, data: [0x61, 0x62, 0xC3, 0x28])
        #expect(throws: PayloadConversionError.invalidUTF8(byteOffset: 2)) { try stored.jsonPayload() }
    }

    @Test func binaryFormatIsAnArrayOfBytes() throws {
        let block = try self.block("[0, 1, 127, 128, 255]", .binary)
        #expect(block.data == [0, 1, 127, 128, 255])
        #expect(try block.jsonPayload().serializedString == "[0,1,127,128,255]")
        #expect(try self.block("[]", .binary).data == [])
        #expect(try PayloadBlock.empty.jsonPayload() == [])
    }

    @Test func binaryElementErrorsNameTheIndex() throws {
        #expect(try self.conversionError("[1,2,3,256]", .binary) == .invalidByte(index: 3, literal: "256"))
        #expect(try self.conversionError("[-1]", .binary) == .invalidByte(index: 0, literal: "-1"))
        #expect(try self.conversionError("[1.5]", .binary) == .invalidByte(index: 0, literal: "1.5"))
        #expect(try self.conversionError("[1, 1.0]", .binary) == .invalidByte(index: 1, literal: "1.0"))
        #expect(try self.conversionError("[1e2]", .binary) == .invalidByte(index: 0, literal: "1e2"))
        #expect(try self.conversionError("[99999999999999999999999]", .binary) == .invalidByte(index: 0, literal: "99999999999999999999999"))
        #expect(try self.conversionError(#"[0,"1"]"#, .binary) == .byteNotANumber(index: 1, found: "a string"))
        #expect(try self.conversionError("[[1]]", .binary) == .byteNotANumber(index: 0, found: "an array"))
        #expect(try self.conversionError(#""AQI=""#, .binary) == .wrongJSONKind(format: .binary, found: "a string"))
        #expect(try self.conversionError("null", .binary) == .wrongJSONKind(format: .binary, found: "null"))
    }

    @Test func errorDescriptions() {
        #expect(PayloadConversionError.invalidByte(index: 3, literal: "256").description == "Payload[3] is 256, expected an integer 0–255")
        #expect(PayloadConversionError.byteNotANumber(index: 1, found: "a string").description == "Payload[1] is a string, expected an integer 0–255")
        #expect(
            PayloadConversionError.wrongJSONKind(format: .ascii, found: "a number").description
                == "Payload is a number, expected a string for Format ASCII"
        )
        #expect(PayloadConversionError.nonASCII(byteOffset: 2, byte: 0xC3).description == "Payload has byte 0xc3 at offset 2, which is not ASCII")
        #expect(PayloadConversionError.tooLong(length: 70_000).description == "Payload is 70000 bytes, at most 65535 are allowed")
    }

    @Test func storedJSONMustParse() throws {
        let stored = try PayloadBlock(format: .json, data: Array("{\"a\":".utf8))
        #expect(throws: PayloadConversionError.invalidJSON(JSONParseError(.unexpectedEnd, at: 5))) { try stored.jsonPayload() }
        let empty = try PayloadBlock(format: .json, data: [])
        #expect(throws: PayloadConversionError.invalidJSON(JSONParseError(.unexpectedEnd, at: 0))) { try empty.jsonPayload() }
    }

    @Test func dataAboveTheBlockLimitIsRefused() throws {
        let longText = JSONValue.string(String(repeating: "a", count: 65_536))
        #expect(throws: PayloadConversionError.tooLong(length: 65_536)) { try PayloadBlock(jsonPayload: longText, format: .utf8) }
        #expect(throws: PayloadConversionError.tooLong(length: 65_536)) { try PayloadBlock(jsonPayload: longText, format: .ascii) }
        // The JSON form is two quotes longer than the text.
        let jsonText = JSONValue.string(String(repeating: "a", count: 65_534))
        #expect(throws: PayloadConversionError.tooLong(length: 65_536)) { try PayloadBlock(jsonPayload: jsonText, format: .json) }
        let manyBytes = JSONValue.array(Array(repeating: 1, count: 65_536))
        #expect(throws: PayloadConversionError.tooLong(length: 65_536)) { try PayloadBlock(jsonPayload: manyBytes, format: .binary) }
        let justFits = JSONValue.array(Array(repeating: 255, count: 65_535))
        #expect(try PayloadBlock(jsonPayload: justFits, format: .binary).data.count == 65_535)
    }
}
