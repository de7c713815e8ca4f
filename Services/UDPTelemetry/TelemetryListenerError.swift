/// Why the telemetry listener could not start or stopped working.
enum TelemetryListenerError: Error, CustomStringConvertible {
    /// The UDP socket could not be bound (address in use, not local, no permission…).
    case bindFailed(address: String, port: Int, reason: String)
    /// A socket closed while the service was not shutting down.
    case closedUnexpectedly(address: String, port: Int)

    var description: String {
        switch self {
        case .bindFailed(let address, let port, let reason):
            return "cannot listen for telemetry on UDP \(address):\(port) (UDPServer.Addr/Port): \(reason)"
        case .closedUnexpectedly(let address, let port):
            return "the telemetry socket on UDP \(address):\(port) closed unexpectedly"
        }
    }
}
