/// The format nibble of a payload block.
public enum PayloadFormat: UInt8, CaseIterable, Hashable, Sendable, CustomStringConvertible {
    case binary = 0x0
    case ascii = 0x1
    case utf8 = 0x2
    case json = 0xA

    /// The name used by the HTTP API and webhooks in the `"Format"` field.
    public var name: String {
        switch self {
        case .binary: return "BINARY"
        case .ascii: return "ASCII"
        case .utf8: return "UTF8"
        case .json: return "JSON"
        }
    }

    /// The format whose ``PayloadFormat/name`` is exactly `name` (case-sensitive); nil otherwise.
    public init?(name: String) {
        guard let format = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = format
    }

    /// The format of a 4-bit nibble.
    /// - Throws: ``IoTSocketError/unknownPayloadFormat(_:)``.
    public init(nibble: UInt8) throws(IoTSocketError) {
        guard let format = PayloadFormat(rawValue: nibble) else { throw .unknownPayloadFormat(nibble) }
        self = format
    }

    public var description: String { self.name }
}
