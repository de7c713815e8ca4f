import ArgumentParser
import ServiceKit

/// The `udp-telemetry` executable: receives telemetry datagrams and queues them for routing.
@main
struct UDPTelemetryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "udp-telemetry",
        abstract: "IoTSocket concentrator — udp-telemetry: receives telemetry datagrams and queues them for routing.",
        discussion: ServiceOptions.discussion
    )

    @OptionGroup var options: ServiceOptions

    func run() async throws {
        guard let runtime = try ServiceRuntime.bootstrap(.udpTelemetry, options: self.options) else { return }
        let telemetry = TelemetryServices(runtime: runtime)
        try await runtime.run(telemetry.services, readiness: telemetry.readiness)
    }
}
