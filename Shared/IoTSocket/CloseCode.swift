/// The code of a Close transmission, and whether the session survives it.
///
/// A struct rather than an enum because peers may send codes outside the protocol's table;
/// those are kept as they are (and close the session).
public struct CloseCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8

    public init(rawValue: UInt8) {
        self.rawValue = rawValue
    }

    public init(_ rawValue: UInt8) {
        self.rawValue = rawValue
    }

    /// 0x00: protocol error; the session is closed.
    public static let protocolError = CloseCode(0x00)
    /// 0x01: maintenance; the session is closed.
    public static let maintenance = CloseCode(0x01)
    /// 0x02: too many transmissions to process; the session is closed.
    public static let tooManyTransmissions = CloseCode(0x02)
    /// 0x03: internal processing error; the session is closed.
    public static let internalError = CloseCode(0x03)
    /// 0xA0: going to sleep for a while; the session is kept.
    public static let sleeping = CloseCode(0xA0)
    /// 0xA1: freeing resources; the session is kept.
    public static let freeingResources = CloseCode(0xA1)

    /// Every code of the protocol's table.
    public static let known: [CloseCode] = [
        .protocolError, .maintenance, .tooManyTransmissions, .internalError, .sleeping, .freeingResources,
    ]

    /// True only for 0xA0 and 0xA1: the concentrator keeps the session for a later resume.
    public var keepsSession: Bool { self == .sleeping || self == .freeingResources }

    /// The meaning from the protocol's table; nil for a code outside it.
    public var meaning: String? {
        switch self {
        case .protocolError: return "protocol error"
        case .maintenance: return "maintenance"
        case .tooManyTransmissions: return "too many transmissions"
        case .internalError: return "internal error"
        case .sleeping: return "sleeping"
        case .freeingResources: return "freeing resources"
        default: return nil
        }
    }

    /// E.g. `0xA0 (sleeping)`.
    public var description: String { "0x\(Hex.encode([self.rawValue])) (\(self.meaning ?? "unknown"))" }
}
