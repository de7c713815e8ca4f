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
        guard
            let runtime = try ServiceRuntime.bootstrap(
                .httpAPI, options: self.options, startupChecks: HTTPAPIServices.checkStartup)
        else { return }
        let api: HTTPAPIServices
        do {
            api = try await HTTPAPIServices.make(runtime: runtime)
        } catch {
            // A configuration problem (no central key, unreadable TLS file…): exit like any
            // configuration error, so supervisors do not restart a process that cannot start.
            runtime.logger.critical("cannot start", metadata: ["error": "\(error)"])
            ServiceOptions.reportConfigurationError(error)
            await runtime.redis.close()
            throw ExitCode(78)
        }
        try await runtime.run(api.services, readiness: api.readiness)
    }
}
