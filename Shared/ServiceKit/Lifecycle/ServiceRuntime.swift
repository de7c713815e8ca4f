#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import Foundation
import Logging
import Messaging
import Metrics
import NIOCore
import RedisBus
import ServiceLifecycle

/// What every service process starts with: its configuration, identity, logger, Redis client
/// and key names, and the way it runs (admin endpoint + its own services in one
/// `ServiceGroup`, stopped gracefully on SIGTERM or SIGINT).
public struct ServiceRuntime: Sendable {
    public let service: ServiceName
    public let configuration: ConcentratorConfiguration
    /// Unique among running instances: it names this instance's own streams.
    public let instanceID: String
    public let logger: Logger
    public let keys: KeySpace
    public let redis: RedisClient

    /// Loads the configuration, sets up logging and metrics and creates the Redis client.
    ///
    /// - Parameter startupChecks: what the service loads at start besides the configuration
    ///   (TLS files, required keys); run in `--check-config` too, so a configuration that passes
    ///   the check also starts.
    /// - Returns: nil after printing the effective configuration when `--check-config` was
    ///   given (the process should then exit 0).
    /// - Throws: `ExitCode(78)` after printing a configuration error.
    public static func bootstrap(
        _ service: ServiceName, options: ServiceOptions,
        startupChecks: (ConcentratorConfiguration) throws(StartupError) -> Void = { _ in }
    ) throws -> ServiceRuntime? {
        let loaded = try options.loadConfiguration()
        let configuration = loaded.configuration
        do {
            try startupChecks(configuration)
        } catch {
            ServiceOptions.reportConfigurationError(error)
            throw ExitCode(78)
        }
        if options.checkConfig {
            for warning in loaded.warnings {
                print("warning: \(warning)")
            }
            print("configuration OK for \(service.rawValue): \(options.config ?? "(defaults)")")
            return nil
        }
        if let threads = configuration.threadCount {
            // Before anything uses the event loop group: NIO refuses a later change.
            NIOSingletons.groupLoopCountSuggestion = threads
        }
        let instanceID = configuration.instanceID ?? Self.defaultInstanceID()
        Observability.bootstrap(
            service: service.rawValue, instance: instanceID, level: Logger.Level(rawValue: configuration.logLevel) ?? .info)
        let logger = Logger(label: "iots.\(service.rawValue)")
        for warning in loaded.warnings {
            logger.warning("configuration warning", metadata: ["detail": "\(warning)"])
        }
        let redis = try RedisClient(url: configuration.redis.url, logger: logger)
        return ServiceRuntime(
            service: service, configuration: configuration, instanceID: instanceID, logger: logger,
            keys: KeySpace(prefix: configuration.redis.keyPrefix), redis: redis)
    }

    /// Runs the admin endpoint and `services` until SIGTERM/SIGINT, then shuts them down in
    /// reverse order and closes Redis.
    ///
    /// - Parameters:
    ///   - readiness: checks `/ready` evaluates besides Redis being reachable.
    ///   - adminRoutes: extra routes on the admin endpoint (operator actions); none by default.
    public func run(
        _ services: [any Service], readiness: [AdminServer.ReadinessCheck] = [], adminRoutes: [AdminRoute] = []
    ) async throws {
        let redis = self.redis
        let redisUp = Gauge(label: "iots_redis_up")
        let checks = [
            AdminServer.ReadinessCheck(name: "redis") {
                let reachable = await redis.isReachable()
                redisUp.record(reachable ? 1 : 0)
                return reachable
            }
        ] + readiness
        let admin = AdminServer(
            address: self.configuration.admin.address,
            port: self.configuration.admin.port(for: self.service),
            service: self.service.rawValue,
            checks: checks,
            routes: adminRoutes,
            logger: self.logger
        )
        Gauge(label: "iots_service_info", dimensions: [("service", self.service.rawValue), ("instance", self.instanceID)]).record(1)
        self.logger.info(
            "starting",
            metadata: [
                "admin": "\(self.configuration.admin.address):\(self.configuration.admin.port(for: self.service))",
                "redis": "\(self.configuration.redis.url.redactingPassword)",
                "pid": "\(getpid())",
            ])
        var groupConfiguration = ServiceGroupConfiguration(
            services: ([admin, RedisUpProbe(redis: redis, gauge: redisUp, interval: .seconds(5))] + services).map { .init(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: self.logger
        )
        // A bound on graceful shutdown, then the services are cancelled: a stop must end even
        // when Redis is unreachable. Long enough for an HTTP call waiting at SIGTERM.
        groupConfiguration.maximumGracefulShutdownDuration = Self.maximumShutdown(self.configuration)
        let group = ServiceGroup(configuration: groupConfiguration)
        do {
            try await group.run()
        } catch {
            self.logger.error("stopped on error", metadata: ["error": "\(error)"])
            await redis.close()
            throw error
        }
        await redis.close()
        self.logger.info("stopped")
    }

    /// How long a graceful shutdown may take before the services are cancelled: 30 s, or
    /// `HTTPServer.MaxSecWaitResponse` + 10 s when that is longer.
    static func maximumShutdown(_ configuration: ConcentratorConfiguration) -> Duration {
        .seconds(max(30, configuration.httpServer.maxWaitSeconds + 10))
    }

    /// `<host name>-<pid>`: unique per container replica and per process on one host.
    static func defaultInstanceID() -> String {
        var name = [UInt8](repeating: 0, count: 256)
        _ = name.withUnsafeMutableBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { gethostname($0.baseAddress!, $0.count - 1) }
        }
        let text = String(decoding: name.prefix { $0 != 0 }, as: UTF8.self)
        let host = text.split(separator: ".").first.map(String.init) ?? "host"
        return "\(host)-\(getpid())"
    }
}

extension String {
    /// The URL with any password replaced by `***`, for logs.
    var redactingPassword: String {
        guard let at = self.firstIndex(of: "@"), let scheme = self.range(of: "://") else { return self }
        return String(self[..<scheme.upperBound]) + "***" + String(self[at...])
    }
}
