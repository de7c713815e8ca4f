import ArgumentParser
import IoTSocket
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
        // The ACL file is validated before anything starts: a bad file is a configuration error.
        let loaded = try self.options.loadConfiguration()
        var seed: (path: String, entries: [ACLEntry])?
        if let path = loaded.configuration.aclFile {
            do {
                seed = (path, try ReferenceACLFile.load(path: path))
            } catch {
                ServiceOptions.reportConfigurationError(error)
                throw ExitCode(78)
            }
        }
        guard let runtime = try ServiceRuntime.bootstrap(.router, options: self.options) else { return }
        let settings = RouterSettings(runtime: runtime)
        let router = MessageRouter(settings: settings, metrics: RouterMetrics(), logger: runtime.logger)
        let pipeline = CallPipeline(redis: runtime.redis, logger: runtime.logger)
        let aclStore = ACLStore(redis: runtime.redis, router: router, pipeline: pipeline, logger: runtime.logger)
        // Listed first, so it stops last: the lease is given back once the consumers are done.
        let leadership = RouterLeadership(runtime: runtime)
        try await runtime.run([
            leadership,
            RouterService(runtime: runtime, router: router, pipeline: pipeline, aclStore: aclStore, seedACL: seed, turn: leadership),
            RouterSweeper(runtime: runtime, router: router, pipeline: pipeline),
            TelemetryRouter(runtime: runtime, router: router, pipeline: pipeline, turn: leadership),
            StreamLagMonitor(redis: runtime.redis, groups: [(runtime.keys.routerStream, "router"), (runtime.keys.telemetryStream, "router")]),
        ])
    }
}
