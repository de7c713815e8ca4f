/// The central's web API listener (http-api).
///
/// Keys (reference `HTTPServer` object): `Addr` ("0.0.0.0"), `Port` (8080; the reference
/// defaults to 443 with its certificate, so write the port you want), `SlotsCount` and
/// `SlotsSize` (accepted, unused: connections are not slotted here), `Backlog` (1024),
/// `SSLKeyFilename`/`SSLCrtFilename` (empty: plain HTTP), `MaxContentLength` (524288 bytes),
/// `MaxSecWaitResponse` (30: the cap on a `/request` call's `Timeout`), `IdleTimeoutSec` (120:
/// how long a connection may wait on its client, additive), `MaxConnections` (10000: connections
/// served at once, additive).
public struct HTTPServerConfiguration: Sendable, Equatable {
    public var address = "0.0.0.0"
    public var port = 8080
    public var backlog = 1024
    public var tlsKeyFile: String?
    public var tlsCertificateFile: String?
    public var maxContentLength = 524_288
    public var maxWaitSeconds = 30
    /// A connection is closed after this long without its client sending anything while no
    /// request of it is being answered (an idle keep-alive connection, a request head or body
    /// that stalls).
    public var idleTimeoutSeconds = 120
    /// Connections served at once; more wait in the listen backlog (the process keeps
    /// descriptors for Redis and its own endpoints whatever clients do).
    public var maxConnections = 10_000

    public init() {}

    /// HTTPS is served only when both files are named.
    public var tlsEnabled: Bool { self.tlsKeyFile != nil && self.tlsCertificateFile != nil }
}

extension HTTPServerConfiguration: Decodable {
    public init(from decoder: any Decoder) throws {
        let keys = try decoder.container(keyedBy: ConfigurationKey.self)
        self.init()
        self.address = try keys.value("Addr", default: self.address)
        self.port = try keys.port("Port", default: self.port)
        _ = try keys.integer("SlotsCount", default: 1, in: 1...10_000_000)
        _ = try keys.integer("SlotsSize", default: 1, in: 1...(1024 * 1024 * 1024))
        self.backlog = try keys.integer("Backlog", default: self.backlog, in: 1...65535)
        self.tlsKeyFile = try keys.fileName("SSLKeyFilename")
        self.tlsCertificateFile = try keys.fileName("SSLCrtFilename")
        self.maxContentLength = try keys.integer("MaxContentLength", default: self.maxContentLength, in: 1...(1024 * 1024 * 1024))
        self.maxWaitSeconds = try keys.integer("MaxSecWaitResponse", default: self.maxWaitSeconds, in: 1...86_400)
        self.idleTimeoutSeconds = try keys.integer("IdleTimeoutSec", default: self.idleTimeoutSeconds, in: 1...86_400)
        self.maxConnections = try keys.integer("MaxConnections", default: self.maxConnections, in: 1...1_000_000)
        if (self.tlsKeyFile == nil) != (self.tlsCertificateFile == nil) {
            throw keys.invalid(
                self.tlsKeyFile == nil ? "SSLKeyFilename" : "SSLCrtFilename",
                expected: "a file name, since the other TLS file is set", found: "nothing")
        }
        keys.warnAboutUnknownKeys(
            known: [
                "Addr", "Port", "SlotsCount", "SlotsSize", "Backlog", "SSLKeyFilename", "SSLCrtFilename", "MaxContentLength",
                "MaxSecWaitResponse", "IdleTimeoutSec", "MaxConnections",
            ],
            decoder: decoder)
    }
}
