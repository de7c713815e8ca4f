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
        // The TLS files are loaded here first so that `--check-config` catches a bad one too.
        guard
            let runtime = try ServiceRuntime.bootstrap(
                .tcpGateway, options: self.options, startupChecks: { configuration throws(StartupError) in
                    _ = try GatewayServer.makeTLSContext(configuration.tcpServer)
                })
        else { return }
        let gateway: GatewayServices
        do {
            gateway = try GatewayServices(runtime: runtime)
        } catch {
            // A configuration problem (unreadable TLS file…): exit like any configuration error,
            // so supervisors do not restart a process that cannot start.
            runtime.logger.critical("cannot start", metadata: ["error": "\(error)"])
            ServiceOptions.reportConfigurationError(error)
            await runtime.redis.close()
            throw ExitCode(78)
        }
        try await runtime.run(gateway.services, readiness: gateway.readiness)
    }
}
