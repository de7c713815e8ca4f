import Crypto
import NIOCore

/// The client's proof of identity: its UID + HMAC-SHA256(auth key, challenge), 48 bytes.
///
/// Check it with ``ChallengeAnswer/isValid(for:challenge:)``, which compares in constant time;
/// never compare ``ChallengeAnswer/mac`` with `==`.
public struct ChallengeAnswer: Hashable, Sendable {
    public static let macByteCount = 32
    public static let wireLength = UID.wireLength + macByteCount

    /// Who claims to answer (``UID/central`` for the central).
    public let uid: UID
    /// The 32-byte HMAC-SHA256.
    public let mac: [UInt8]

    /// - Throws: ``IoTSocketError/wrongByteCount(field:expected:actual:)`` unless `mac` is 32 bytes.
    public init(uid: UID, mac: some Collection<UInt8>) throws(IoTSocketError) {
        guard mac.count == Self.macByteCount else {
            throw .wrongByteCount(field: "challenge answer MAC", expected: Self.macByteCount, actual: mac.count)
        }
        self.uid = uid
        self.mac = Array(mac)
    }

    /// The answer of `uid` holding `key` to `challenge`.
    public init(uid: UID, key: AuthKey, challenge: Challenge) {
        let code = HMAC<SHA256>.authenticationCode(for: challenge.bytes, using: SymmetricKey(data: key.bytes))
        self.uid = uid
        self.mac = Array(code)
    }

    /// True when ``ChallengeAnswer/mac`` is HMAC-SHA256(`key`, `challenge`); constant time in the MAC.
    public func isValid(for key: AuthKey, challenge: Challenge) -> Bool {
        HMAC<SHA256>.isValidAuthenticationCode(
            self.mac,
            authenticating: challenge.bytes,
            using: SymmetricKey(data: key.bytes)
        )
    }

    /// Reads 48 bytes; nil (nothing read) when fewer are readable.
    /// - Throws: a UID error; the reader index is then unchanged.
    public static func read(from buffer: inout ByteBuffer) throws(IoTSocketError) -> ChallengeAnswer? {
        guard buffer.readableBytes >= Self.wireLength else { return nil }
        var copy = buffer
        // Length checked above.
        let uid = try UID.read(from: &copy)!
        let mac = copy.readBytes(length: Self.macByteCount)!
        let answer = try ChallengeAnswer(uid: uid, mac: mac)
        buffer = copy
        return answer
    }

    public func write(to buffer: inout ByteBuffer) {
        self.uid.write(to: &buffer)
        buffer.writeBytes(self.mac)
    }
}
