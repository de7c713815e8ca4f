/// The telemetry datagram listener (udp-telemetry).
///
/// Keys (reference `UDPServer` object): `Addr` ("0.0.0.0"), `Port` (50505), `DatagramMaxSize`
/// (4096 bytes; longer datagrams are dropped and counted).
public struct UDPServerConfiguration: Sendable, Equatable {
    public var address = "0.0.0.0"
    public var port = 50505
    public var datagramMaxSize = 4096

    public init() {}
}

extension UDPServerConfiguration: Decodable {
    public init(from decoder: any Decoder) throws {
        let keys = try decoder.container(keyedBy: ConfigurationKey.self)
        self.init()
        self.address = try keys.value("Addr", default: self.address)
        self.port = try keys.port("Port", default: self.port)
        self.datagramMaxSize = try keys.integer("DatagramMaxSize", default: self.datagramMaxSize, in: 11...65_507)
        keys.warnAboutUnknownKeys(known: ["Addr", "Port", "DatagramMaxSize"], decoder: decoder)
    }
}
