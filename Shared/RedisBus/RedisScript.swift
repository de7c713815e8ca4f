/// A Lua script run with `EVALSHA`, named by the SHA-1 of its source as Redis names it.
///
/// The digest is computed locally, so a script can be declared as a constant and used at once;
/// ``RedisCommandExecutor/evalsha(_:keys:arguments:)`` loads it the first time a server
/// answers `NOSCRIPT` (a fresh or restarted Redis, or after `SCRIPT FLUSH`).
public struct RedisScript: Sendable, Hashable {
    /// The Lua source.
    public let source: String
    /// The lowercase hexadecimal SHA-1 of ``source``, as `SCRIPT LOAD` returns it.
    public let sha1: String

    /// Declares a script.
    public init(_ source: String) {
        self.source = source
        self.sha1 = SHA1.hexDigest(of: source.utf8)
    }
}
