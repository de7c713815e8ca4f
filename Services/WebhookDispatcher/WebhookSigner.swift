import Crypto
import Foundation
import IoTSocket

/// Signs webhook bodies the Standard Webhooks way, so a central can check a call came from its
/// concentrator and was not replayed late.
///
/// Headers: `webhook-id` (stable across retries of one message, so the central can drop
/// duplicates), `webhook-timestamp` (Unix seconds of this attempt) and `webhook-signature`
/// (`v1,` + base64 HMAC-SHA256 of `id.timestamp.body`).
struct WebhookSigner: Sendable {
    private let key: SymmetricKey

    /// - Parameter key: the secret's bytes (see ``key(fromSecret:)``).
    init(key: [UInt8]) {
        self.key = SymmetricKey(data: key)
    }

    /// The HMAC key of a configured secret: the base64-decoded rest of a `whsec_…` secret (as
    /// Standard Webhooks libraries do), else the secret's UTF-8 bytes. Nil when a `whsec_`
    /// secret is not valid base64.
    static func key(fromSecret secret: String) -> [UInt8]? {
        guard secret.hasPrefix("whsec_") else { return Array(secret.utf8) }
        return Data(base64Encoded: String(secret.dropFirst(6))).map { Array($0) }
    }

    /// The three signature headers for one attempt.
    func headers(id: String, timestampSeconds: Int, body: [UInt8]) -> [(name: String, value: String)] {
        var content = Array("\(id).\(timestampSeconds).".utf8)
        content.append(contentsOf: body)
        let mac = HMAC<SHA256>.authenticationCode(for: content, using: self.key)
        return [
            ("webhook-id", id),
            ("webhook-timestamp", String(timestampSeconds)),
            ("webhook-signature", "v1," + Data(mac).base64EncodedString()),
        ]
    }

    /// The Standard Webhooks `webhook-id` of the job in stream entry `entryID` (stable across
    /// retries): `<prefix>_<entry ID with "_" for "-">_<uid hex>`.
    ///
    /// Built byte by byte: Foundation's `replacingOccurrences` cost 2.5 % of the dispatcher's
    /// CPU at 20 000 deliveries per second.
    static func webhookID(prefix: String, entryID: String, uid: UID) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(prefix.utf8.count + entryID.utf8.count + 34)
        bytes += prefix.utf8
        bytes.append(UInt8(ascii: "_"))
        for byte in entryID.utf8 {
            bytes.append(byte == UInt8(ascii: "-") ? UInt8(ascii: "_") : byte)
        }
        bytes.append(UInt8(ascii: "_"))
        bytes += uid.hex.utf8
        return String(decoding: bytes, as: UTF8.self)
    }
}
