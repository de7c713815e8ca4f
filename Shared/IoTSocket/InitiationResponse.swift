import NIOCore

/// The concentrator's answer to an ``Initiation``: `OK (1 bit) | rule type (7 bits)`, rule
/// flags, then the rule's content.
///
/// With OK = 0 the client closes. A redirect sends the client to another host and port.
public struct InitiationResponse: Hashable, Sendable {
    /// What the client must do next, beyond OK/refused.
    public enum Rule: Hashable, Sendable {
        /// 0x00: no content.
        case none
        /// 0x01: content = host as a protocol UTF-8 string (1-byte length) + 16-bit port.
        case redirect(host: String, port: UInt16)

        /// The 7-bit rule type.
        public var type: UInt8 {
            switch self {
            case .none: return 0x00
            case .redirect: return 0x01
            }
        }
    }

    /// OK with no rule: the handshake goes on.
    public static let accepted = InitiationResponse(uncheckedOK: true, ruleFlags: 0, rule: .none)
    /// Refused with no rule: the client closes.
    public static let refused = InitiationResponse(uncheckedOK: false, ruleFlags: 0, rule: .none)

    public let ok: Bool
    public let ruleFlags: UInt8
    public let rule: Rule

    /// - Throws: ``IoTSocketError/redirectHostTooLong(byteCount:)`` when a redirect host's UTF-8
    ///   form is above 255 bytes.
    public init(ok: Bool, ruleFlags: UInt8 = 0, rule: Rule = .none) throws(IoTSocketError) {
        if case .redirect(let host, _) = rule, host.utf8.count > Int(UInt8.max) {
            throw .redirectHostTooLong(byteCount: host.utf8.count)
        }
        self.init(uncheckedOK: ok, ruleFlags: ruleFlags, rule: rule)
    }

    private init(uncheckedOK ok: Bool, ruleFlags: UInt8, rule: Rule) {
        self.ok = ok
        self.ruleFlags = ruleFlags
        self.rule = rule
    }

    public var wireLength: Int {
        switch self.rule {
        case .none: return 2
        case .redirect(let host, _): return 2 + 1 + host.utf8.count + 2
        }
    }

    /// Reads one response; nil (nothing read) until it is complete.
    /// - Throws: ``IoTSocketError/unknownInitiationRule(_:)`` (its length cannot be known),
    ///   ``IoTSocketError/redirectHostNotUTF8(wireBytes:)``; the reader index is then unchanged.
    public static func read(from buffer: inout ByteBuffer) throws(IoTSocketError) -> InitiationResponse? {
        var copy = buffer
        guard let (first, flags) = copy.readMultipleIntegers(as: (UInt8, UInt8).self) else { return nil }
        let ok = first & 0x80 != 0
        let rule: Rule
        switch first & 0x7F {
        case 0x00:
            rule = .none
        case 0x01:
            guard let hostLength = copy.readInteger(as: UInt8.self),
                let hostBytes = copy.readBytes(length: Int(hostLength)),
                let port = copy.readInteger(as: UInt16.self)
            else { return nil }
            guard UTF8Validation.firstInvalidOffset(in: hostBytes) == nil else {
                throw .redirectHostNotUTF8(wireBytes: hostBytes)
            }
            rule = .redirect(host: String(decoding: hostBytes, as: UTF8.self), port: port)
        case let unknown:
            throw .unknownInitiationRule(unknown)
        }
        buffer = copy
        return InitiationResponse(uncheckedOK: ok, ruleFlags: flags, rule: rule)
    }

    public func write(to buffer: inout ByteBuffer) {
        buffer.writeMultipleIntegers((self.ok ? 0x80 : 0) | self.rule.type, self.ruleFlags)
        switch self.rule {
        case .none:
            break
        case .redirect(let host, let port):
            // The initializer guarantees the host fits the 1-byte length.
            buffer.writeInteger(UInt8(host.utf8.count))
            buffer.writeString(host)
            buffer.writeInteger(port)
        }
    }
}
