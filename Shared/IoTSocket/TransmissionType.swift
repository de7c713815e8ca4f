/// The ToT nibble of a transmission header.
public enum TransmissionType: UInt8, CaseIterable, Hashable, Sendable, CustomStringConvertible {
    case acl = 0x0
    case ping = 0x1
    case pong = 0x2
    case request = 0x3
    case response = 0x4
    case telemetryToken = 0x5
    case identifiedTelemetry = 0x6
    case close = 0xF

    /// Whether a transmission of this type may, must or must not carry a UID (the RTE bit).
    public enum UIDPresence: Sendable, Hashable {
        case never
        case optional
        case always
    }

    public var uidPresence: UIDPresence {
        switch self {
        case .acl, .ping, .pong, .telemetryToken, .close: return .never
        case .request, .response: return .optional
        case .identifiedTelemetry: return .always
        }
    }

    /// The type of a ToT nibble (0–15).
    /// - Throws: ``IoTSocketError/unknownTransmissionType(_:)``.
    public init(nibble: UInt8) throws(IoTSocketError) {
        guard let type = TransmissionType(rawValue: nibble) else { throw .unknownTransmissionType(nibble) }
        self = type
    }

    public var description: String {
        switch self {
        case .acl: return "ACL"
        case .ping: return "Ping"
        case .pong: return "Pong"
        case .request: return "Request"
        case .response: return "Response"
        case .telemetryToken: return "Telemetry token"
        case .identifiedTelemetry: return "Identified telemetry"
        case .close: return "Close"
        }
    }
}
