import ArgumentParser
import ServiceKit

/// The `tcp-gateway` executable: terminates IoTSocket TCP sessions of devices and the central.
@main
struct TCPGatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tcp-gateway",
        abstract: "IoTSocket concentrator — tcp-gateway: terminates IoTSocket TCP sessions of devices and the central.",
        discussion: ServiceOptions.discussion
    )

    @OptionGroup var options: ServiceOptions

    func run() async throws {
        guard let runtime = try ServiceRuntime.bootstrap(.tcpGateway, options: self.options) else { return }
        try await runtime.run([])
    }
}
