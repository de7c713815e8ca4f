/// The admin endpoint every service serves (`/health`, `/ready`, `/metrics`).
///
/// Keys (additive `Admin` object): `Addr` ("127.0.0.1"; `IOTS_ADMIN_ADDR`), `Ports` (an
/// object from service name to port; defaults: router 9101, tcp-gateway 9102, udp-telemetry
/// 9103, http-api 9104, webhook-dispatcher 9105, remote-sync 9106). `IOTS_ADMIN_PORT` sets the
/// port of the one process it is given to.
public struct AdminConfiguration: Sendable, Equatable {
    public var address = "127.0.0.1"
    public var ports: [String: Int] = [:]
    /// `IOTS_ADMIN_PORT`: the port of this one process, whatever service it runs.
    public var portOverride: Int?

    public init() {}

    /// The port `service` listens on.
    public func port(for service: ServiceName) -> Int {
        self.portOverride ?? self.ports[service.rawValue] ?? service.defaultAdminPort
    }
}

extension AdminConfiguration: Decodable {
    public init(from decoder: any Decoder) throws {
        let keys = try decoder.container(keyedBy: ConfigurationKey.self)
        self.init()
        self.address = try keys.value("Addr", default: self.address)
        if keys.contains(ConfigurationKey("Ports")) {
            let ports = try keys.nestedContainer(keyedBy: ConfigurationKey.self, forKey: ConfigurationKey("Ports"))
            for key in ports.allKeys {
                guard ServiceName(rawValue: key.stringValue) != nil else {
                    throw ports.invalid(
                        key.stringValue, expected: "a service name (\(ServiceName.allCases.map(\.rawValue).joined(separator: ", ")))",
                        found: "\"\(key.stringValue)\"")
                }
                self.ports[key.stringValue] = try ports.port(key.stringValue, default: 1)
            }
        }
        keys.warnAboutUnknownKeys(known: ["Addr", "Ports"], decoder: decoder)
    }
}
