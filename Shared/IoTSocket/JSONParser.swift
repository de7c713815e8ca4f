/// A strict RFC 8259 parser over a contiguous byte buffer.
///
/// Recursive descent, with the nesting depth bounded so hostile input cannot exhaust the stack.
/// Strict means: no comments, no trailing commas, no single quotes, no leading zeros, no BOM,
/// no unescaped control characters, only well-formed UTF-8, no lone surrogates, no duplicate keys.
struct JSONParser {
    private let bytes: UnsafeBufferPointer<UInt8>
    private let maximumDepth: Int
    private var index = 0

    /// Parses one JSON text: a single value with optional surrounding whitespace.
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>, maximumDepth: Int) throws(JSONParseError) -> JSONValue {
        var parser = JSONParser(bytes: bytes, maximumDepth: maximumDepth)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        guard parser.index == bytes.count else { throw JSONParseError(.trailingData, at: parser.index) }
        return value
    }

    private init(bytes: UnsafeBufferPointer<UInt8>, maximumDepth: Int) {
        self.bytes = bytes
        self.maximumDepth = maximumDepth
    }

    private mutating func skipWhitespace() {
        while self.index < self.bytes.count {
            switch self.bytes[self.index] {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                self.index += 1
            default:
                return
            }
        }
    }

    private func currentByte() throws(JSONParseError) -> UInt8 {
        guard self.index < self.bytes.count else { throw JSONParseError(.unexpectedEnd, at: self.index) }
        return self.bytes[self.index]
    }

    /// `depth` counts the arrays and objects around the value.
    private mutating func parseValue(depth: Int) throws(JSONParseError) -> JSONValue {
        let byte = try self.currentByte()
        switch byte {
        case UInt8(ascii: "{"):
            return try self.parseObject(depth: try self.deeper(depth))
        case UInt8(ascii: "["):
            return try self.parseArray(depth: try self.deeper(depth))
        case UInt8(ascii: "\""):
            return .string(try self.parseString())
        case UInt8(ascii: "t"):
            try self.expectLiteral("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try self.expectLiteral("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try self.expectLiteral("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .number(try self.parseNumber())
        default:
            throw JSONParseError(.unexpectedByte(byte, expected: "a JSON value"), at: self.index)
        }
    }

    private func deeper(_ depth: Int) throws(JSONParseError) -> Int {
        guard depth < self.maximumDepth else {
            throw JSONParseError(.nestingTooDeep(limit: self.maximumDepth), at: self.index)
        }
        return depth + 1
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
        let expected = UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount)
        for byte in expected {
            let actual = try self.currentByte()
            guard actual == byte else {
                throw JSONParseError(.unexpectedByte(actual, expected: "\"\(literal)\""), at: self.index)
            }
            self.index += 1
        }
    }

    private mutating func parseObject(depth: Int) throws(JSONParseError) -> JSONValue {
        self.index += 1
        self.skipWhitespace()
        if try self.currentByte() == UInt8(ascii: "}") {
            self.index += 1
            return .object([])
        }
        var members: [(key: String, value: JSONValue)] = []
        var keys: Set<String> = []
        while true {
            let keyStart = self.index
            let byte = try self.currentByte()
            guard byte == UInt8(ascii: "\"") else {
                throw JSONParseError(.unexpectedByte(byte, expected: "a string key"), at: self.index)
            }
            let key = try self.parseString()
            guard keys.insert(key).inserted else { throw JSONParseError(.duplicateKey(key), at: keyStart) }
            self.skipWhitespace()
            let colon = try self.currentByte()
            guard colon == UInt8(ascii: ":") else {
                throw JSONParseError(.unexpectedByte(colon, expected: "':'"), at: self.index)
            }
            self.index += 1
            self.skipWhitespace()
            members.append((key: key, value: try self.parseValue(depth: depth)))
            self.skipWhitespace()
            let separator = try self.currentByte()
            self.index += 1
            switch separator {
            case UInt8(ascii: ","):
                self.skipWhitespace()
            case UInt8(ascii: "}"):
                return .object(members)
            default:
                throw JSONParseError(.unexpectedByte(separator, expected: "',' or '}'"), at: self.index - 1)
            }
        }
    }

    private mutating func parseArray(depth: Int) throws(JSONParseError) -> JSONValue {
        self.index += 1
        self.skipWhitespace()
        if try self.currentByte() == UInt8(ascii: "]") {
            self.index += 1
            return .array([])
        }
        var elements: [JSONValue] = []
        while true {
            elements.append(try self.parseValue(depth: depth))
            self.skipWhitespace()
            let separator = try self.currentByte()
            self.index += 1
            switch separator {
            case UInt8(ascii: ","):
                self.skipWhitespace()
            case UInt8(ascii: "]"):
                return .array(elements)
            default:
                throw JSONParseError(.unexpectedByte(separator, expected: "',' or ']'"), at: self.index - 1)
            }
        }
    }

    private mutating func parseNumber() throws(JSONParseError) -> JSONNumber {
        let start = self.index
        var failureOffset = start
        guard let length = JSONNumber.grammarLength(of: self.bytes, from: start, failureOffset: &failureOffset) else {
            let reason: JSONParseError.Reason = failureOffset == self.bytes.count ? .unexpectedEnd : .invalidNumber
            throw JSONParseError(reason, at: failureOffset)
        }
        self.index += length
        let literal = String(decoding: UnsafeBufferPointer(rebasing: self.bytes[start..<self.index]), as: UTF8.self)
        return JSONNumber(uncheckedLiteral: literal)
    }

    /// Parses a string starting at its opening quote.
    private mutating func parseString() throws(JSONParseError) -> String {
        self.index += 1
        var runStart = self.index
        // Only filled once an escape is met: most strings are copied straight from the input.
        var unescaped: [UInt8] = []
        var sawEscape = false
        while true {
            let byte = try self.currentByte()
            switch byte {
            case UInt8(ascii: "\""):
                let run = UnsafeBufferPointer(rebasing: self.bytes[runStart..<self.index])
                self.index += 1
                guard sawEscape else { return String(decoding: run, as: UTF8.self) }
                unescaped.append(contentsOf: run)
                return String(decoding: unescaped, as: UTF8.self)
            case UInt8(ascii: "\\"):
                unescaped.append(contentsOf: UnsafeBufferPointer(rebasing: self.bytes[runStart..<self.index]))
                sawEscape = true
                try self.parseEscape(into: &unescaped)
                runStart = self.index
            case 0..<0x20:
                throw JSONParseError(.controlCharacterInString(byte), at: self.index)
            case 0x20..<0x80:
                self.index += 1
            default:
                guard let length = UTF8Validation.sequenceLength(in: self.bytes, at: self.index) else {
                    throw JSONParseError(.invalidUTF8, at: self.index)
                }
                self.index += length
            }
        }
    }

    /// Parses an escape starting at its backslash and appends the UTF-8 of what it stands for.
    private mutating func parseEscape(into output: inout [UInt8]) throws(JSONParseError) {
        let escapeStart = self.index
        self.index += 1
        let letter = try self.currentByte()
        self.index += 1
        switch letter {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"):
            output.append(letter)
        case UInt8(ascii: "b"):
            output.append(0x08)
        case UInt8(ascii: "f"):
            output.append(0x0C)
        case UInt8(ascii: "n"):
            output.append(0x0A)
        case UInt8(ascii: "r"):
            output.append(0x0D)
        case UInt8(ascii: "t"):
            output.append(0x09)
        case UInt8(ascii: "u"):
            let unit = try self.parseHex4()
            let scalar: UInt32
            switch unit {
            case 0xD800...0xDBFF:
                // A high surrogate is only meaningful with the low one in the very next escape.
                guard self.index + 1 < self.bytes.count,
                    self.bytes[self.index] == UInt8(ascii: "\\"),
                    self.bytes[self.index + 1] == UInt8(ascii: "u")
                else { throw JSONParseError(.loneSurrogate(unit), at: escapeStart) }
                self.index += 2
                let low = try self.parseHex4()
                guard (0xDC00...0xDFFF).contains(low) else {
                    throw JSONParseError(.loneSurrogate(unit), at: escapeStart)
                }
                scalar = 0x10000 + (UInt32(unit - 0xD800) << 10) + UInt32(low - 0xDC00)
            case 0xDC00...0xDFFF:
                throw JSONParseError(.loneSurrogate(unit), at: escapeStart)
            default:
                scalar = UInt32(unit)
            }
            Self.appendUTF8(of: scalar, to: &output)
        default:
            throw JSONParseError(.invalidEscape(letter), at: escapeStart)
        }
    }

    private mutating func parseHex4() throws(JSONParseError) -> UInt16 {
        var value: UInt16 = 0
        for _ in 0..<4 {
            guard self.index < self.bytes.count else { throw JSONParseError(.unexpectedEnd, at: self.index) }
            let byte = self.bytes[self.index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw JSONParseError(.invalidUnicodeEscape, at: self.index)
            }
            value = value << 4 | UInt16(digit)
            self.index += 1
        }
        return value
    }

    /// `scalar` is a Unicode scalar value (surrogates were combined or refused before).
    private static func appendUTF8(of scalar: UInt32, to output: inout [UInt8]) {
        switch scalar {
        case 0..<0x80:
            output.append(UInt8(scalar))
        case 0x80..<0x800:
            output.append(UInt8(0xC0 | scalar >> 6))
            output.append(UInt8(0x80 | scalar & 0x3F))
        case 0x800..<0x10000:
            output.append(UInt8(0xE0 | scalar >> 12))
            output.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            output.append(UInt8(0x80 | scalar & 0x3F))
        default:
            output.append(UInt8(0xF0 | scalar >> 18))
            output.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            output.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            output.append(UInt8(0x80 | scalar & 0x3F))
        }
    }
}
