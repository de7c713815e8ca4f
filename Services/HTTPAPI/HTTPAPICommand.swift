import ArgumentParser
import ServiceKit

/// The `http-api` executable: the central's IoTSocket-over-HTTP API and the operators' REST API.
@main
struct HTTPAPICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "http-api",
        abstract: "IoTSocket concentrator — http-api: the central's IoTSocket-over-HTTP API and the operators' REST API.",
        discussion: ServiceOptions.discussion
    )

    @OptionGroup var options: ServiceOptions

    func run() async throws {
        guard let runtime = try ServiceRuntime.bootstrap(.httpAPI, options: self.options) else { return }
        try await runtime.run([])
    }
}
