import ArgumentParser
import ServiceKit

/// The `webhook-dispatcher` executable: delivers request and telemetry webhooks to the central.
@main
struct WebhookDispatcherCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "webhook-dispatcher",
        abstract: "IoTSocket concentrator — webhook-dispatcher: delivers request and telemetry webhooks to the central.",
        discussion: ServiceOptions.discussion
    )

    @OptionGroup var options: ServiceOptions

    func run() async throws {
        guard let runtime = try ServiceRuntime.bootstrap(.webhookDispatcher, options: self.options) else { return }
        try await runtime.run([])
    }
}
