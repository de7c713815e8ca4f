/// One of the central's webhook URLs, seen as an application with a status of its own.
public enum WebhookApplication: String, Sendable, CaseIterable, Hashable, CustomStringConvertible {
    /// `Central.WebHooks.Request`: objects' requests, answered by the central.
    case request
    /// `Central.WebHooks.Telemetry`: telemetry, delivered at least once.
    case telemetry

    public var description: String { self.rawValue }
}
