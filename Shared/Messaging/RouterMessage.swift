import IoTSocket
import RedisBus

/// What the router consumes from `iots:router`: session events and transmissions from
/// gateways, calls and ACL changes from http-api.
///
/// Encoded as stream fields: `t` (kind). Gateway kinds (`open`, `close`, `frame`) carry `uid`
/// (the element's UID as 32 hex digits), `gw` (gateway instance), `conn` (connection id within
/// that gateway) and per kind `max`, `addr`, `code`, `f` (the transmission's wire bytes,
/// decoded by the router with the IoTSocket codec; `back` carries in `f` a frame the router had
/// addressed to that connection, which had closed). http-api kinds (`call`, `acl`) are
/// described by `APICall` and `ACLUpdate`.
public enum RouterMessage: Sendable, Equatable {
    /// An element logged in on a gateway connection.
    case sessionOpened(SessionOpened)
    /// A gateway connection ended; `code` is the Close code the peer or the gateway sent, or
    /// nil when the connection was lost without one.
    case sessionClosed(SessionClosed)
    /// A transmission an element sent, as it came off the wire.
    case transmission(ConnectionAddress, frame: [UInt8])
    /// A frame the router addressed to a connection that had closed when it reached the
    /// gateway: sent after that connection's ``sessionClosed(_:)``, so the router can hold it
    /// for the kept session (or send it to the element's new connection) rather than lose it.
    case returned(ConnectionAddress, frame: [UInt8])
    /// A request the central made over HTTP, for the router to send to an object.
    case call(APICall)
    /// An ACL change made over HTTP.
    case aclUpdate(ACLUpdate)
    /// The central's answer to a request webhook, for the object that asked.
    case webhookAnswer(WebhookAnswer)

    /// Identifies one connection of one element on one gateway instance.
    public struct ConnectionAddress: Sendable, Hashable {
        public var uid: UID
        public var gateway: String
        public var connection: String

        public init(uid: UID, gateway: String, connection: String) {
            self.uid = uid
            self.gateway = gateway
            self.connection = connection
        }
    }

    public struct SessionOpened: Sendable, Equatable {
        public var address: ConnectionAddress
        /// The longest transmission the element can process (its initiation), nil if unstated.
        public var maxTransmissionLength: Int?
        /// The peer's `host:port`, for operators.
        public var remoteAddress: String
        /// `AuthKey.fingerprint` of the ACL key the gateway checked the login against (objects;
        /// nil for the central, and from gateways older than this field). The router opens the
        /// session only if the ACL still holds that key: a gateway's cached copy may be stale.
        public var aclKeyFingerprint: String?

        public init(address: ConnectionAddress, maxTransmissionLength: Int?, remoteAddress: String, aclKeyFingerprint: String? = nil) {
            self.address = address
            self.maxTransmissionLength = maxTransmissionLength
            self.remoteAddress = remoteAddress
            self.aclKeyFingerprint = aclKeyFingerprint
        }
    }

    public struct SessionClosed: Sendable, Equatable {
        public var address: ConnectionAddress
        public var code: CloseCode?

        public init(address: ConnectionAddress, code: CloseCode?) {
            self.address = address
            self.code = code
        }

        /// PROTOCOL.md: kept after an unexpected disconnect or Close 0xA0/0xA1, dropped after
        /// Close 0x00–0x03 (and any other code a peer may invent).
        public var keepsSession: Bool { self.code?.keepsSession ?? true }
    }

    /// The stream fields of this message.
    public var fields: [(name: String, value: RedisArgument)] {
        switch self {
        case .sessionOpened(let opened):
            var fields = Self.addressFields("open", opened.address)
            fields.append(("addr", .string(opened.remoteAddress)))
            if let max = opened.maxTransmissionLength {
                fields.append(("max", .integer(max)))
            }
            if let fingerprint = opened.aclKeyFingerprint {
                fields.append(("kf", .string(fingerprint)))
            }
            return fields
        case .sessionClosed(let closed):
            var fields = Self.addressFields("close", closed.address)
            if let code = closed.code {
                fields.append(("code", .integer(Int(code.rawValue))))
            }
            return fields
        case .transmission(let address, let frame):
            var fields = Self.addressFields("frame", address)
            fields.append(("f", .bytes(frame)))
            return fields
        case .returned(let address, let frame):
            var fields = Self.addressFields("back", address)
            fields.append(("f", .bytes(frame)))
            return fields
        case .call(let call):
            return call.fields
        case .aclUpdate(let update):
            return update.fields
        case .webhookAnswer(let answer):
            return answer.fields
        }
    }

    private static func addressFields(_ kind: String, _ address: ConnectionAddress) -> [(name: String, value: RedisArgument)] {
        [("t", .string(kind)), ("uid", .string(address.uid.hex)), ("gw", .string(address.gateway)), ("conn", .string(address.connection))]
    }

    /// Decodes a stream entry.
    /// - Throws: `MessageError` naming the entry and the missing or malformed field.
    public init(entry: StreamEntry) throws(MessageError) {
        guard let kind = entry.string("t") else { throw MessageError(entry: entry.id, field: "t", problem: "missing") }
        switch kind {
        case "call":
            self = .call(try APICall(entry: entry))
            return
        case "acl":
            self = .aclUpdate(try ACLUpdate(entry: entry))
            return
        case "answer":
            self = .webhookAnswer(try WebhookAnswer(entry: entry))
            return
        default:
            break
        }
        guard let uidHex = entry.string("uid"), let uid = try? UID(hex: uidHex) else {
            throw MessageError(entry: entry.id, field: "uid", problem: "missing or not 32 hex digits")
        }
        guard let gateway = entry.string("gw"), let connection = entry.string("conn") else {
            throw MessageError(entry: entry.id, field: "gw/conn", problem: "missing")
        }
        let address = ConnectionAddress(uid: uid, gateway: gateway, connection: connection)
        switch kind {
        case "open":
            let max = entry.string("max").flatMap { Int($0) }
            self = .sessionOpened(
                .init(address: address, maxTransmissionLength: max, remoteAddress: entry.string("addr") ?? "", aclKeyFingerprint: entry.string("kf")))
        case "close":
            var code: CloseCode?
            if let text = entry.string("code") {
                guard let raw = UInt8(text) else { throw MessageError(entry: entry.id, field: "code", problem: "not 0–255") }
                code = CloseCode(raw)
            }
            self = .sessionClosed(.init(address: address, code: code))
        case "frame":
            guard let frame = entry["f"] else { throw MessageError(entry: entry.id, field: "f", problem: "missing") }
            self = .transmission(address, frame: frame)
        case "back":
            guard let frame = entry["f"] else { throw MessageError(entry: entry.id, field: "f", problem: "missing") }
            self = .returned(address, frame: frame)
        default:
            throw MessageError(entry: entry.id, field: "t", problem: "unknown kind \"\(kind)\"")
        }
    }
}
