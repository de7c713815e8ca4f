import NIOCore

/// What Redis said about one telemetry token.
enum TokenLookupResult: Sendable, Equatable {
    /// The token's key names this owner (UID hex, normalised); `timeToLive` is the key's
    /// remaining lifetime, `nil` when it never expires.
    case owner(uid: String, timeToLive: TimeAmount?)
    /// No such key: never issued, expired or revoked.
    case absent
    /// The key names an owner that may not send telemetry (its ACL group has `Telemetry` off,
    /// the configuration having changed since the token was issued).
    case refused(DropReason)
    /// Redis could not be asked (down, slow, loading): nothing is known.
    case failed
}
