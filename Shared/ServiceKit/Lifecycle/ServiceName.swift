/// The six services of the concentrator, by their executable names.
public enum ServiceName: String, Sendable, CaseIterable {
    case router
    case tcpGateway = "tcp-gateway"
    case udpTelemetry = "udp-telemetry"
    case httpAPI = "http-api"
    case webhookDispatcher = "webhook-dispatcher"
    case remoteSync = "remote-sync"

    /// The admin port used when the configuration names none, distinct per service so the
    /// whole stack can run on one host.
    public var defaultAdminPort: Int {
        switch self {
        case .router: 9101
        case .tcpGateway: 9102
        case .udpTelemetry: 9103
        case .httpAPI: 9104
        case .webhookDispatcher: 9105
        case .remoteSync: 9106
        }
    }
}
