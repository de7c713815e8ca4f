/// The status of a webhook application, as operators see it.
public enum ApplicationState: String, Sendable, CaseIterable, Hashable, CustomStringConvertible {
    /// Configured, and no message sent yet (and the inactivity period not yet over).
    case provisioned = "Provisioned"
    /// Successful (2xx) deliveries within the inactivity period; occasional errors allowed.
    case running = "Running"
    /// No successful delivery within the inactivity period: nothing sent, or only failures.
    case inactive = "Inactive"
    /// Disabled by an operator: nothing is sent, telemetry is kept for replay.
    case disabled = "Disabled"

    public var description: String { self.rawValue }
}
