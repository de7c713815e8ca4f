/// Why a JSON text was refused, and the byte offset (from 0) where the parser stopped.
public struct JSONParseError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Reason: Sendable, Hashable {
        /// The text ended inside a value.
        case unexpectedEnd
        /// A byte that cannot appear here; `expected` says what could.
        case unexpectedByte(UInt8, expected: String)
        /// A number that breaks the grammar (`-`, `1.`, `1e`, `01` is caught as trailing data).
        case invalidNumber
        /// A backslash followed by something other than `" \ / b f n r t u`.
        case invalidEscape(UInt8)
        /// `\u` not followed by 4 hex digits.
        case invalidUnicodeEscape
        /// A `\uD800`–`\uDFFF` escape that is not part of a high + low surrogate pair.
        case loneSurrogate(UInt16)
        /// An unescaped byte below 0x20 inside a string.
        case controlCharacterInString(UInt8)
        /// Bytes that are not well-formed UTF-8.
        case invalidUTF8
        /// Arrays and objects nested deeper than the limit.
        case nestingTooDeep(limit: Int)
        /// An object with the same key twice (refused so no two readers can disagree on its value).
        case duplicateKey(String)
        /// Something other than whitespace after the value.
        case trailingData
    }

    public let reason: Reason
    public let offset: Int

    public init(_ reason: Reason, at offset: Int) {
        self.reason = reason
        self.offset = offset
    }

    public var description: String {
        let what: String
        switch self.reason {
        case .unexpectedEnd:
            what = "unexpected end of input"
        case .unexpectedByte(let byte, let expected):
            what = "unexpected \(Self.show(byte)), expected \(expected)"
        case .invalidNumber:
            what = "invalid number"
        case .invalidEscape(let byte):
            what = "invalid escape \\\(Self.show(byte))"
        case .invalidUnicodeEscape:
            what = "\\u must be followed by 4 hex digits"
        case .loneSurrogate(let unit):
            what = "lone surrogate \\u\(Hex.encode([UInt8(unit >> 8), UInt8(unit & 0xFF)]))"
        case .controlCharacterInString(let byte):
            what = "unescaped control character 0x\(Hex.encode([byte])) in string"
        case .invalidUTF8:
            what = "invalid UTF-8"
        case .nestingTooDeep(let limit):
            what = "nesting deeper than \(limit) levels"
        case .duplicateKey(let key):
            what = "duplicate key \"\(key)\""
        case .trailingData:
            what = "unexpected data after the JSON value"
        }
        return "invalid JSON: \(what) at byte \(self.offset)"
    }

    private static func show(_ byte: UInt8) -> String {
        (0x21...0x7E).contains(byte) ? "'\(Character(UnicodeScalar(byte)))'" : "byte 0x\(Hex.encode([byte]))"
    }
}
