import Hummingbird
import IoTSocket

/// Checks `Authorization: Bearer <central auth key as hex>` (PROTOCOL.md, HTTP section).
///
/// The scheme is case-insensitive (RFC 7235), the hex digits too. The key is compared in
/// constant time (``AuthKey/matchesInConstantTime(_:)``) so response timing does not reveal how
/// much of a guess was right.
struct BearerAuthorization: Sendable {
    let centralKey: AuthKey

    /// - Throws: `APIError` 401 (with `WWW-Authenticate`) when the header is missing, not a
    ///   Bearer credential, or not the central's key.
    func check(_ headers: HTTPFields) throws(APIError) {
        guard let header = headers[.authorization] else {
            throw .unauthorized("the Authorization header is missing, expected \"Bearer <central auth key as 32 hex digits>\"", invalidToken: false)
        }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw .unauthorized("the Authorization header is not a Bearer credential", invalidToken: false)
        }
        let token = parts[1].trimmingSpaces
        guard let presented = try? AuthKey(hex: String(token)), presented.matchesInConstantTime(self.centralKey) else {
            throw .unauthorized("the bearer key is not the central's auth key", invalidToken: true)
        }
    }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var text = self
        while text.last == " " || text.last == "\t" { text.removeLast() }
        while text.first == " " || text.first == "\t" { text.removeFirst() }
        return text
    }
}
