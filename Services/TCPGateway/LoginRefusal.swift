/// Why a connection did not become a session; the `reason` dimension of
/// `iots_gateway_logins_refused_total` and, for refused challenge answers, the `detail` of the
/// auth-refused lifecycle event.
enum LoginRefusal: String, Sendable, CaseIterable {
    /// The initiation's version is not 0x01.
    case unknownVersion = "unknown_version"
    /// TLS asked while no certificate is configured.
    case tlsUnavailable = "tls_unavailable"
    /// The gateway is stopping (answered with the redirect rule when one is configured).
    case draining
    /// Every slot (`SlotsCount`) is taken (answered with the redirect rule when configured).
    case full
    /// The UID is not in the ACL (or its record there is unreadable).
    case unknownUID = "unknown_uid"
    /// The HMAC does not match the key the ACL holds for the UID.
    case badKey = "bad_key"
    /// The central tried to log in but no central key is configured.
    case centralKeyMissing = "central_key_missing"
    /// The ACL could not be read from Redis.
    case aclUnavailable = "acl_unavailable"
    /// The answer's UID is not a valid UTF-8 name.
    case malformedAnswer = "malformed_answer"
    /// `TCPServer.ProxyProtocol` is on and the connection did not open with a valid header.
    case proxyHeader = "proxy_header"

    /// The human wording used in lifecycle events and logs.
    var detail: String {
        switch self {
        case .unknownVersion: "unknown version"
        case .tlsUnavailable: "TLS not available"
        case .draining: "gateway draining"
        case .full: "gateway full"
        case .unknownUID: "unknown uid"
        case .badKey: "bad key"
        case .centralKeyMissing: "central key not configured"
        case .aclUnavailable: "acl unavailable"
        case .malformedAnswer: "malformed answer"
        case .proxyHeader: "no valid PROXY protocol header"
        }
    }
}
