/// The code of a Response transmission.
///
/// A struct rather than an enum because peers may send codes outside the protocol's table;
/// those are kept as they are and forwarded unchanged.
public struct ResponseCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8

    public init(rawValue: UInt8) {
        self.rawValue = rawValue
    }

    public init(_ rawValue: UInt8) {
        self.rawValue = rawValue
    }

    /// 0x00: the destination answered.
    public static let valid = ResponseCode(0x00)
    /// 0x01: the destination did not answer correctly.
    public static let notValid = ResponseCode(0x01)
    /// 0xA0: the request could never be delivered.
    public static let destinationNotFound = ResponseCode(0xA0)
    /// 0xA1: no response within the allowed time.
    public static let timeout = ResponseCode(0xA1)
    /// 0xA2: a request with the same tracking number is already in progress.
    public static let trackingInProgress = ResponseCode(0xA2)

    /// Every code of the protocol's table.
    public static let known: [ResponseCode] = [.valid, .notValid, .destinationNotFound, .timeout, .trackingInProgress]

    /// The meaning from the protocol's table; nil for a code outside it.
    public var meaning: String? {
        switch self {
        case .valid: return "valid"
        case .notValid: return "not valid"
        case .destinationNotFound: return "destination not found"
        case .timeout: return "timeout"
        case .trackingInProgress: return "tracking number in progress"
        default: return nil
        }
    }

    /// E.g. `0xA1 (timeout)`.
    public var description: String { "0x\(Hex.encode([self.rawValue])) (\(self.meaning ?? "unknown"))" }
}
