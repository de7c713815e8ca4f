/// Hex text for keys, tokens and diagnostics: lowercase on output, case-insensitive on input.
enum Hex {
    private static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Lowercase hex, two digits per byte.
    static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var text: [UInt8] = []
        text.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            text.append(self.digits[Int(byte >> 4)])
            text.append(self.digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// One hex digit for a value 0–15 (a nibble); larger values are printed in full.
    static func digit(_ value: UInt8) -> String {
        value < 16 ? String(UnicodeScalar(self.digits[Int(value)])) : self.encode([value])
    }

    /// Decodes exactly `byteCount` bytes from `2 × byteCount` hex digits.
    ///
    /// - Parameter field: names the value in the error ("auth key", "telemetry token").
    /// - Throws: ``IoTSocketError/hexWrongLength(field:digits:expected:)`` or
    ///   ``IoTSocketError/hexInvalidDigit(field:character:position:)``.
    static func decode(_ text: String, byteCount: Int, field: String) throws(IoTSocketError) -> [UInt8] {
        let scalars = text.unicodeScalars
        let digitCount = scalars.count
        guard digitCount == byteCount * 2 else {
            throw .hexWrongLength(field: field, digits: digitCount, expected: byteCount * 2)
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(byteCount)
        var high: UInt8 = 0
        for (position, scalar) in scalars.enumerated() {
            guard let value = self.value(of: scalar) else {
                throw .hexInvalidDigit(field: field, character: scalar, position: position)
            }
            if position % 2 == 0 {
                high = value
            } else {
                bytes.append(high << 4 | value)
            }
        }
        return bytes
    }

    private static func value(of scalar: Unicode.Scalar) -> UInt8? {
        switch scalar.value {
        case 0x30...0x39: return UInt8(scalar.value - 0x30)
        case 0x41...0x46: return UInt8(scalar.value - 0x41 + 10)
        case 0x61...0x66: return UInt8(scalar.value - 0x61 + 10)
        default: return nil
        }
    }
}
