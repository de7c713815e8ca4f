import IoTSocket
import Messaging
import ServiceKit

/// What the router needs from the configuration, in the units it computes with.
struct RouterSettings: Sendable {
    var instanceID: String
    var keys: KeySpace
    var keepSessionMilliseconds: Int
    var requestTimeoutMilliseconds: Int
    var streamMaxLength: Int
    /// The most frames held for one kept element; beyond, requests are refused with 0xA0.
    var maxHeldPerElement: Int
    /// The most frames held for a kept central, telemetry included (it may be away for the
    /// whole keep delay while devices keep reporting).
    var maxHeldTelemetry: Int
    var groups: [String: GroupConfiguration]
    /// Whether object requests go to the request webhook when no central session exists.
    var requestWebhook: Bool
    /// Whether telemetry goes to the telemetry webhook when no central session exists.
    var telemetryWebhook: Bool
    /// A request webhook's deadline (`Central.WebHooks.MaxSecWaitResponse`).
    var webhookWaitMilliseconds: Int

    init(runtime: ServiceRuntime) {
        let configuration = runtime.configuration
        self.instanceID = runtime.instanceID
        self.keys = runtime.keys
        self.keepSessionMilliseconds = configuration.keepSessionSeconds * 1000
        self.requestTimeoutMilliseconds = configuration.tcpServer.requestTimeoutSeconds * 1000
        self.streamMaxLength = configuration.redis.streamMaxLength
        self.maxHeldPerElement = 1000
        self.maxHeldTelemetry = 100_000
        self.groups = configuration.groups
        self.requestWebhook = configuration.central.webHooks.requestURL != nil
        self.telemetryWebhook = configuration.central.webHooks.telemetryURL != nil
        self.webhookWaitMilliseconds = configuration.central.webHooks.maxWaitSeconds * 1000
    }

    /// How long an in-flight entry may live at most, whatever happens to its deadline:
    /// a safety net so a crash between two steps never leaks it.
    var inFlightSafetyMilliseconds: Int {
        self.requestTimeoutMilliseconds + self.keepSessionMilliseconds + 60_000
    }

    func group(wireBytes: [UInt8]) -> GroupConfiguration? {
        guard wireBytes.count == 16, let name = try? GroupName(wireBytes: wireBytes) else { return nil }
        return self.groups[name.string]
    }
}
