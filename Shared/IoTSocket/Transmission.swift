/// One transmission of an established session, in either direction.
///
/// Header byte `ToT (4 bits) | RTE (1 bit) | reserved (3 bits, 0)`, a 16-byte UID when RTE = 1,
/// then the data for the type. Wire reading and writing are in `Transmission+Wire.swift`;
/// on a channel use ``TransmissionDecoder`` and ``TransmissionEncoder``.
///
/// Which role may send which type is not checked here (that is the session's business); what is
/// checked is the shape: a UID only where the type allows one, and always where it requires one.
public enum Transmission: Hashable, Sendable {
    /// 0x0, central → concentrator: the whole list of authorised objects. Never a UID.
    case acl([ACLEntry])
    /// 0x1: the receiver must answer ``Transmission/pong``.
    case ping
    /// 0x2: the answer to a Ping.
    case pong
    /// 0x3: `uid` is present (RTE = 1) between concentrator and central, absent toward an object.
    case request(uid: UID?, tracking: UInt16, payload: PayloadBlock)
    /// 0x4: the answer to the Request with the same tracking number.
    case response(uid: UID?, tracking: UInt16, code: ResponseCode, payload: PayloadBlock)
    /// 0x5, concentrator → object: the token for UDP telemetry. Never a UID.
    case telemetryToken(TelemetryToken)
    /// 0x6, concentrator → central: an object's telemetry; always carries the object's UID.
    case identifiedTelemetry(uid: UID, payload: PayloadBlock)
    /// 0xF: sent right before a wanted disconnect.
    case close(CloseCode)

    public var type: TransmissionType {
        switch self {
        case .acl: return .acl
        case .ping: return .ping
        case .pong: return .pong
        case .request: return .request
        case .response: return .response
        case .telemetryToken: return .telemetryToken
        case .identifiedTelemetry: return .identifiedTelemetry
        case .close: return .close
        }
    }

    /// The UID carried in the header (RTE = 1), if any.
    public var uid: UID? {
        switch self {
        case .request(let uid, _, _), .response(let uid, _, _, _): return uid
        case .identifiedTelemetry(let uid, _): return uid
        case .acl, .ping, .pong, .telemetryToken, .close: return nil
        }
    }

    /// The number of bytes ``Transmission/write(to:)`` appends: compare it with the maximum
    /// transmission length a client stated in its initiation.
    public var wireLength: Int {
        let header = 1 + (self.uid == nil ? 0 : UID.wireLength)
        switch self {
        case .acl(let entries): return header + 4 + entries.count * ACLEntry.wireLength
        case .ping, .pong: return header
        case .request(_, _, let payload): return header + 2 + payload.wireLength
        case .response(_, _, _, let payload): return header + 3 + payload.wireLength
        case .telemetryToken: return header + TelemetryToken.byteCount
        case .identifiedTelemetry(_, let payload): return header + payload.wireLength
        case .close: return header + 1
        }
    }
}
