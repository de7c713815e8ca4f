import Crypto
import NIOCore

/// A 16-byte authentication key: an object's (from the ACL) or the central's.
///
/// Written as 32 hex digits in JSON and configuration. Its `description` is redacted so that a
/// key interpolated into a log line does not leak; use ``AuthKey/hex`` deliberately.
public struct AuthKey: Hashable, Sendable, CustomStringConvertible {
    /// The length of a key in bytes.
    public static let byteCount = 16

    let raw: Bytes16

    init(raw: Bytes16) {
        self.raw = raw
    }

    /// - Throws: ``IoTSocketError/wrongByteCount(field:expected:actual:)`` unless 16 bytes.
    public init(bytes: some Collection<UInt8>) throws(IoTSocketError) {
        guard let raw = Bytes16(bytes) else {
            throw .wrongByteCount(field: "auth key", expected: Self.byteCount, actual: bytes.count)
        }
        self.raw = raw
    }

    /// A key from 32 hex digits, upper or lower case.
    /// - Throws: ``IoTSocketError/hexWrongLength(field:digits:expected:)`` or
    ///   ``IoTSocketError/hexInvalidDigit(field:character:position:)``.
    public init(hex: String) throws(IoTSocketError) {
        self.init(raw: Bytes16(try Hex.decode(hex, byteCount: Self.byteCount, field: "auth key"))!)
    }

    public var bytes: [UInt8] { self.raw.bytes }

    /// 32 lowercase hex digits.
    public var hex: String { Hex.encode(self.raw.bytes) }

    public var description: String { "AuthKey(redacted)" }

    /// The SHA-1 of the key's 16 bytes in lowercase hex: names a key without revealing it (what
    /// a gateway sends with a session-opened event, compared by the router in Redis with
    /// `redis.sha1hex`).
    public var fingerprint: String {
        Hex.encode(Insecure.SHA1.hash(data: self.bytes))
    }

    /// Whether `other` is the same key, looking at all 16 bytes whatever the first difference,
    /// so the time taken tells a guesser nothing (`==` may stop at the first differing word).
    public func matchesInConstantTime(_ other: AuthKey) -> Bool {
        ((self.raw.high ^ other.raw.high) | (self.raw.low ^ other.raw.low)) == 0
    }

    /// Reads 16 bytes; nil (nothing read) when fewer are readable.
    public static func read(from buffer: inout ByteBuffer) -> AuthKey? {
        buffer.readBytes16().map(AuthKey.init(raw:))
    }

    public func write(to buffer: inout ByteBuffer) {
        buffer.writeBytes16(self.raw)
    }
}
