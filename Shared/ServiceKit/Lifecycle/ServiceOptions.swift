import ArgumentParser
import Foundation

/// The command-line options every service executable shares.
///
/// `--config FILE` names the JSON configuration (the reference concentrator's `config.json`
/// works as-is); `--check-config` validates it and exits, for deployment pipelines.
public struct ServiceOptions: ParsableArguments, Sendable {
    @Option(name: .long, help: "The JSON configuration file (reference config.json format plus additive keys).")
    public var config: String?

    @Flag(name: .long, help: "Validate the configuration (file and IOTS_* environment), print it, and exit.")
    public var checkConfig = false

    public init() {}

    /// Loads the configuration, or prints the problem to standard error and exits with status
    /// 78 (EX_CONFIG) so supervisors do not restart a process that cannot start.
    public func loadConfiguration() throws -> ConcentratorConfiguration.Loaded {
        do {
            return try ConcentratorConfiguration.load(path: self.config, environment: ProcessInfo.processInfo.environment)
        } catch {
            Self.reportConfigurationError(error)
            throw ExitCode(78)
        }
    }

    /// Prints a configuration error (a bad value, or a file it names that cannot be used) the
    /// way every executable does.
    public static func reportConfigurationError(_ error: any Error) {
        FileHandle.standardError.write(Data("configuration error: \(error)\n".utf8))
    }
}

extension ServiceOptions {
    /// The `--help` text shared by every service: where configuration comes from.
    public static let discussion = """
        Configuration: --config FILE (JSON; the reference concentrator's config.json is accepted \
        as-is), then these environment variables override it: \
        \(ConcentratorConfiguration.environmentOverrides.map { "\($0.variable) (\($0.key))" }.joined(separator: ", ")). \
        Admin endpoint: GET /health, /ready, /metrics. SIGTERM or SIGINT stops gracefully. \
        Exit status 78: configuration error.
        """
}
