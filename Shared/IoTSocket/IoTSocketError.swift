/// A value that does not follow the IoTSocket v1.01 wire format, or that cannot be encoded in it.
///
/// Every case carries the offending value (byte, length, limit) so that a log line or an HTTP 400
/// message can say exactly what was wrong. Decoding errors on a TCP session are protocol errors:
/// the concentrator answers them with Close 0x00 and disconnects.
public enum IoTSocketError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Which kind of 16-byte padded name an error is about.
    public enum NameKind: String, Sendable, Hashable {
        case uid = "UID"
        case groupName = "group name"
    }

    /// The UTF-8 form of a name is longer than the 16 bytes it must fit in (it is never truncated).
    case nameTooLong(NameKind, byteCount: Int)
    /// A name is empty where the protocol requires one (only the central's UID may be empty).
    case nameEmpty(NameKind)
    /// A name contains U+0000, which would make its padded wire form ambiguous.
    case nameContainsNull(NameKind)
    /// A name read from the wire is not valid UTF-8; `wireBytes` are the 16 bytes received.
    case nameNotUTF8(NameKind, wireBytes: [UInt8])

    /// A fixed-size value (UID, key, token, challenge, MAC) was built from the wrong number of bytes.
    case wrongByteCount(field: String, expected: Int, actual: Int)
    /// A hex text has the wrong number of digits.
    case hexWrongLength(field: String, digits: Int, expected: Int)
    /// A hex text contains something other than 0-9, a-f, A-F; `position` counts from 0.
    case hexInvalidDigit(field: String, character: Unicode.Scalar, position: Int)

    /// A payload block's format nibble is none of 0x0, 0x1, 0x2, 0xA.
    case unknownPayloadFormat(UInt8)
    /// Payload data longer than the 16-bit length field can announce.
    case payloadTooLong(length: Int)
    /// A payload options value that does not fit in its 4 bits.
    case payloadOptionsOutOfRange(UInt8)

    /// A transmission header whose ToT nibble is not in the protocol's table.
    case unknownTransmissionType(UInt8)
    /// A transmission header with one of its 3 reserved bits set.
    case reservedHeaderBitsSet(header: UInt8)
    /// RTE = 1 on a transmission type that never carries a UID.
    case unexpectedUID(TransmissionType)
    /// RTE = 0 on a transmission type that always carries a UID.
    case missingUID(TransmissionType)
    /// A transmission announces more bytes than the receiver accepts; its data was not read.
    case transmissionTooLong(length: Int, maximum: Int)
    /// Entry `index` (from 0) of an ACL is malformed.
    indirect case invalidACLEntry(index: Int, IoTSocketError)

    /// An initiation response whose rule type is not known, so its length cannot be known either.
    case unknownInitiationRule(UInt8)
    /// A redirect host that is not valid UTF-8.
    case redirectHostNotUTF8(wireBytes: [UInt8])
    /// A redirect host whose UTF-8 form does not fit the 1-byte length of a protocol string.
    case redirectHostTooLong(byteCount: Int)
    /// A validation byte other than 0x00 (refused) and 0x01 (accepted).
    case invalidValidationByte(UInt8)

    /// A UDP datagram shorter than a token plus an empty payload block (11 bytes).
    case datagramTooShort(length: Int)
    /// A UDP datagram whose length is not exactly 11 + the payload block's length.
    case datagramLengthMismatch(datagramLength: Int, expected: Int)

    public var description: String {
        switch self {
        case .nameTooLong(let kind, let byteCount):
            return "\(kind.rawValue) is \(byteCount) UTF-8 bytes long, at most 16 are allowed"
        case .nameEmpty(let kind):
            return "\(kind.rawValue) is empty"
        case .nameContainsNull(let kind):
            return "\(kind.rawValue) contains a NUL character"
        case .nameNotUTF8(let kind, let wireBytes):
            return "\(kind.rawValue) is not valid UTF-8: \(Hex.encode(wireBytes))"
        case .wrongByteCount(let field, let expected, let actual):
            return "\(field) must be \(expected) bytes, got \(actual)"
        case .hexWrongLength(let field, let digits, let expected):
            return "\(field) must be \(expected) hex digits, got \(digits)"
        case .hexInvalidDigit(let field, let character, let position):
            return "\(field) has \"\(character.escaped(asASCII: true))\" at position \(position), expected a hex digit"
        case .unknownPayloadFormat(let format):
            return "unknown payload format 0x\(Hex.digit(format))"
        case .payloadTooLong(let length):
            return "payload is \(length) bytes, at most \(PayloadBlock.maximumDataLength) are allowed"
        case .payloadOptionsOutOfRange(let options):
            return "payload options \(options) do not fit in 4 bits"
        case .unknownTransmissionType(let type):
            return "unknown transmission type 0x\(Hex.digit(type))"
        case .reservedHeaderBitsSet(let header):
            return "transmission header 0x\(Hex.encode([header])) has reserved bits set"
        case .unexpectedUID(let type):
            return "\(type) transmission must not carry a UID (RTE = 1)"
        case .missingUID(let type):
            return "\(type) transmission must carry a UID (RTE = 0)"
        case .transmissionTooLong(let length, let maximum):
            let announced = length == Int.max ? "more than \(Int.max)" : "\(length)"
            return "transmission announces \(announced) bytes, at most \(maximum) are accepted"
        case .invalidACLEntry(let index, let underlying):
            return "ACL entry \(index): \(underlying)"
        case .unknownInitiationRule(let rule):
            return "unknown initiation rule type 0x\(Hex.encode([rule]))"
        case .redirectHostNotUTF8(let wireBytes):
            return "redirect host is not valid UTF-8: \(Hex.encode(wireBytes))"
        case .redirectHostTooLong(let byteCount):
            return "redirect host is \(byteCount) UTF-8 bytes long, at most 255 are allowed"
        case .invalidValidationByte(let byte):
            return "validation byte 0x\(Hex.encode([byte])) is neither 0x00 nor 0x01"
        case .datagramTooShort(let length):
            return "telemetry datagram is \(length) bytes, at least \(TelemetryDatagram.headerLength) are needed"
        case .datagramLengthMismatch(let datagramLength, let expected):
            return "telemetry datagram is \(datagramLength) bytes but its payload block announces \(expected)"
        }
    }
}
