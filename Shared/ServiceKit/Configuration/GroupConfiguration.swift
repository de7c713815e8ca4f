/// What one group of objects may do.
///
/// Keys (reference `Groups.<name>` object): `Telemetry` (false: no telemetry token is issued),
/// `TelemetryTokenExpMin` (0: tokens never expire; otherwise their lifetime in minutes).
public struct GroupConfiguration: Sendable, Equatable {
    public var telemetry = false
    public var telemetryTokenLifetimeMinutes = 0

    public init(telemetry: Bool = false, telemetryTokenLifetimeMinutes: Int = 0) {
        self.telemetry = telemetry
        self.telemetryTokenLifetimeMinutes = telemetryTokenLifetimeMinutes
    }
}

extension GroupConfiguration: Decodable {
    public init(from decoder: any Decoder) throws {
        let keys = try decoder.container(keyedBy: ConfigurationKey.self)
        self.init()
        self.telemetry = try keys.value("Telemetry", default: false)
        self.telemetryTokenLifetimeMinutes = try keys.integer("TelemetryTokenExpMin", default: 0, in: 0...(366 * 24 * 60))
        keys.warnAboutUnknownKeys(known: ["Telemetry", "TelemetryTokenExpMin"], decoder: decoder)
    }
}
