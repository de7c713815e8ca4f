import ArgumentParser
import ServiceKit

/// The `router` executable: routes requests, responses and telemetry between devices and the central.
@main
struct RouterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "router",
        abstract: "IoTSocket concentrator — router: routes requests, responses and telemetry between devices and the central.",
        discussion: ServiceOptions.discussion
    )

    @OptionGroup var options: ServiceOptions

    func run() async throws {
        guard let runtime = try ServiceRuntime.bootstrap(.router, options: self.options) else { return }
        try await runtime.run([])
    }
}
