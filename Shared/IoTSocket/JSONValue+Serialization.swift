import NIOCore

extension JSONValue: CustomStringConvertible {
    /// The compact JSON text (no spaces, members in order, non-ASCII as raw UTF-8).
    ///
    /// Control characters, `"` and `\` in strings are escaped; nothing else is.
    public func serialized() -> [UInt8] {
        var output: [UInt8] = []
        self.serialize(into: &output)
        return output
    }

    /// The compact JSON text as a string.
    public var serializedString: String { String(decoding: self.serialized(), as: UTF8.self) }

    public var description: String { self.serializedString }

    /// Appends the compact JSON text.
    public func write(to buffer: inout ByteBuffer) {
        buffer.writeBytes(self.serialized())
    }

    func serialize(into output: inout [UInt8]) {
        switch self {
        case .null:
            output.append(contentsOf: "null".utf8)
        case .bool(let value):
            output.append(contentsOf: (value ? "true" : "false").utf8)
        case .number(let number):
            output.append(contentsOf: number.literal.utf8)
        case .string(let string):
            Self.serialize(string: string, into: &output)
        case .array(let elements):
            output.append(UInt8(ascii: "["))
            for (position, element) in elements.enumerated() {
                if position > 0 { output.append(UInt8(ascii: ",")) }
                element.serialize(into: &output)
            }
            output.append(UInt8(ascii: "]"))
        case .object(let members):
            output.append(UInt8(ascii: "{"))
            for (position, member) in members.enumerated() {
                if position > 0 { output.append(UInt8(ascii: ",")) }
                Self.serialize(string: member.key, into: &output)
                output.append(UInt8(ascii: ":"))
                member.value.serialize(into: &output)
            }
            output.append(UInt8(ascii: "}"))
        }
    }

    private static func serialize(string: String, into output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""):
                output.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"):
                output.append(contentsOf: #"\\"#.utf8)
            case 0x0A:
                output.append(contentsOf: #"\n"#.utf8)
            case 0x0D:
                output.append(contentsOf: #"\r"#.utf8)
            case 0x09:
                output.append(contentsOf: #"\t"#.utf8)
            case 0x08:
                output.append(contentsOf: #"\b"#.utf8)
            case 0x0C:
                output.append(contentsOf: #"\f"#.utf8)
            case 0..<0x20:
                output.append(contentsOf: #"\u00"#.utf8)
                output.append(contentsOf: Hex.encode([byte]).utf8)
            default:
                output.append(byte)
            }
        }
        output.append(UInt8(ascii: "\""))
    }
}
