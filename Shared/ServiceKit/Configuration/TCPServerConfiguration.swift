/// The device and central TCP listener (tcp-gateway).
///
/// Keys (reference `TCPServer` object): `Addr` ("0.0.0.0"), `Port` (50505), `SlotsCount`
/// (20000: sessions one gateway accepts), `SlotsSize` (65600: the longest transmission accepted
/// from an object, in bytes), `Backlog` (1024), `SSLKeyFilename` and `SSLCrtFilename` (empty:
/// TLS refused), `ReqTimeoutSec` (10: how long a routed request waits for its response).
/// Additive: `CentralMaxTransmissionLength` (8 MiB: the central may push a large ACL),
/// `HandshakeTimeoutSec` (10: each set-up step's deadline), `IdleSec` (120: silence before a
/// ping), `PongTimeoutSec` (20), `RedirectHost`/`RedirectPort` (where draining sends devices),
/// `ProxyProtocol` (false: when true, every connection must open with a PROXY protocol v1 or v2
/// header from the load balancer in front, which names the device's address).
public struct TCPServerConfiguration: Sendable, Equatable {
    public var address = "0.0.0.0"
    public var port = 50505
    public var slotsCount = 20_000
    public var maxTransmissionLength = 65_600
    public var centralMaxTransmissionLength = 8 * 1024 * 1024
    public var backlog = 1024
    public var tlsKeyFile: String?
    public var tlsCertificateFile: String?
    public var requestTimeoutSeconds = 10
    public var handshakeTimeoutSeconds = 10
    public var idleSeconds = 120
    public var pongTimeoutSeconds = 20
    public var redirectHost: String?
    public var redirectPort: Int?
    public var proxyProtocol = false

    public init() {}

    /// TLS is possible only when both files are named.
    public var tlsEnabled: Bool { self.tlsKeyFile != nil && self.tlsCertificateFile != nil }
}

extension TCPServerConfiguration: Decodable {
    public init(from decoder: any Decoder) throws {
        let keys = try decoder.container(keyedBy: ConfigurationKey.self)
        self.init()
        self.address = try keys.value("Addr", default: self.address)
        self.port = try keys.port("Port", default: self.port)
        self.slotsCount = try keys.integer("SlotsCount", default: self.slotsCount, in: 1...10_000_000)
        self.maxTransmissionLength = try keys.integer("SlotsSize", default: self.maxTransmissionLength, in: 64...(64 * 1024 * 1024))
        self.centralMaxTransmissionLength = try keys.integer(
            "CentralMaxTransmissionLength", default: self.centralMaxTransmissionLength, in: 64...(1024 * 1024 * 1024))
        self.backlog = try keys.integer("Backlog", default: self.backlog, in: 1...65535)
        self.tlsKeyFile = try keys.fileName("SSLKeyFilename")
        self.tlsCertificateFile = try keys.fileName("SSLCrtFilename")
        self.requestTimeoutSeconds = try keys.integer("ReqTimeoutSec", default: self.requestTimeoutSeconds, in: 1...86_400)
        self.handshakeTimeoutSeconds = try keys.integer("HandshakeTimeoutSec", default: self.handshakeTimeoutSeconds, in: 1...600)
        self.idleSeconds = try keys.integer("IdleSec", default: self.idleSeconds, in: 1...86_400)
        self.pongTimeoutSeconds = try keys.integer("PongTimeoutSec", default: self.pongTimeoutSeconds, in: 1...3600)
        self.redirectHost = try keys.fileName("RedirectHost")
        self.redirectPort = try keys.decodeIfPresent(Int.self, forKey: ConfigurationKey("RedirectPort"))
        self.proxyProtocol = try keys.value("ProxyProtocol", default: self.proxyProtocol)
        if let redirectPort = self.redirectPort, !(1...65535).contains(redirectPort) {
            throw keys.invalid("RedirectPort", expected: "an integer 1–65535", found: "\(redirectPort)")
        }
        if (self.tlsKeyFile == nil) != (self.tlsCertificateFile == nil) {
            throw keys.invalid(
                self.tlsKeyFile == nil ? "SSLKeyFilename" : "SSLCrtFilename",
                expected: "a file name, since the other TLS file is set", found: "nothing")
        }
        keys.warnAboutUnknownKeys(
            known: [
                "Addr", "Port", "SlotsCount", "SlotsSize", "CentralMaxTransmissionLength", "Backlog", "SSLKeyFilename",
                "SSLCrtFilename", "ReqTimeoutSec", "HandshakeTimeoutSec", "IdleSec", "PongTimeoutSec", "RedirectHost",
                "RedirectPort", "ProxyProtocol",
            ],
            decoder: decoder)
    }
}
