import Hummingbird

/// Every endpoint the API serves, named by its path template (the `route` label of the
/// request metrics and the paths of the OpenAPI document).
enum APIRoute: String, CaseIterable, Sendable {
    // The IoTSocket-over-HTTP API (PROTOCOL.md): POST only, exactly as existing centrals call it.
    case acl = "/acl"
    case request = "/request"
    // Additive REST for operators and integrators.
    case devices = "/devices"
    case device = "/devices/{uid}"
    case centralSession = "/sessions/central"
    case applications = "/applications"
    case openAPI = "/openapi.yaml"
    // Probes and metrics, also served on the admin port.
    case health = "/health"
    case ready = "/ready"
    case metrics = "/metrics"

    /// The label used for requests that matched no route.
    static let unmatchedLabel = "unmatched"

    /// The methods the route accepts (`Allow` of a 405).
    var methods: [HTTPRequest.Method] {
        switch self {
        case .acl, .request: [.post]
        case .device: [.get, .put, .delete]
        case .devices, .centralSession, .applications, .openAPI, .health, .ready, .metrics: [.get]
        }
    }

    /// Whether the central's bearer key is required: everything but the probes, the metrics and
    /// the API's own description.
    var requiresAuthorization: Bool {
        switch self {
        case .health, .ready, .metrics, .openAPI: false
        default: true
        }
    }

    /// The route of `path` and, for `/devices/{uid}`, the still percent-encoded UID segment;
    /// nil when no route has this path. One trailing slash is ignored.
    static func match(path: String) -> (route: APIRoute, uidSegment: Substring?)? {
        var path = Substring(path)
        if path.count > 1 && path.hasSuffix("/") {
            path = path.dropLast()
        }
        if let route = APIRoute(rawValue: String(path)), route != .device {
            return (route, nil)
        }
        let prefix = "/devices/"
        guard path.hasPrefix(prefix) else { return nil }
        let segment = path.dropFirst(prefix.count)
        guard !segment.isEmpty, !segment.contains("/") else { return nil }
        return (.device, segment)
    }
}
