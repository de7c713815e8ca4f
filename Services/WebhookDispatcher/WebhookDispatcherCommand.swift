import ArgumentParser
import Messaging
import ServiceKit
import ServiceLifecycle

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
        let settings: DispatcherSettings
        do {
            settings = try DispatcherSettings(runtime.configuration)
        } catch {
            runtime.logger.critical("cannot start", metadata: ["error": "\(error)"])
            throw ExitCode(78)
        }
        let endpoints = WebhookApplication.allCases.compactMap { application in
            settings.urls[application].map { WebhookEndpoint(application: application, url: $0, settings: settings, logger: runtime.logger) }
        }
        let trackers = Dictionary(uniqueKeysWithValues: endpoints.map { ($0.application, ApplicationTracker(application: $0.application)) })
        let statusStore = ApplicationStatusStore(redis: runtime.redis, keys: runtime.keys)
        let retryStore = TelemetryRetryStore(redis: runtime.redis, keys: runtime.keys, logger: runtime.logger)

        var services: [any Service] = [
            ApplicationMonitor(
                endpoints: endpoints, trackers: trackers, statusStore: statusStore, retryStore: retryStore, settings: settings,
                logger: runtime.logger)
        ]
        for endpoint in endpoints {
            let tracker = trackers[endpoint.application]!
            switch endpoint.application {
            case .request:
                services.append(
                    RequestWebhookService(
                        redis: runtime.redis, keys: runtime.keys, instanceID: runtime.instanceID, settings: settings, endpoint: endpoint,
                        tracker: tracker, logger: runtime.logger))
            case .telemetry:
                let delivery = TelemetryDelivery(
                    endpoint: endpoint, tracker: tracker, schedule: settings.retrySchedule, attemptTimeout: settings.attemptTimeout,
                    budget: settings.telemetryBatchBudget, logger: runtime.logger)
                services.append(
                    TelemetryWebhookService(
                        redis: runtime.redis, keys: runtime.keys, instanceID: runtime.instanceID, settings: settings, delivery: delivery,
                        store: retryStore, logger: runtime.logger))
                services.append(
                    RetryDrainService(delivery: delivery, store: retryStore, lease: settings.telemetryReclaimAfter, logger: runtime.logger))
            }
        }
        if endpoints.isEmpty {
            runtime.logger.notice("no webhook URL configured: nothing to deliver")
        } else {
            services.append(StreamLagMonitor(redis: runtime.redis, groups: endpoints.map { (runtime.keys.webhookJobs($0.application), "dispatcher") }))
        }
        let admin = ApplicationAdminRoutes(
            authorization: settings.authorization, trackers: trackers,
            endpoints: Dictionary(uniqueKeysWithValues: endpoints.map { ($0.application, $0) }),
            statusStore: statusStore, retryStore: retryStore, logger: runtime.logger)
        do {
            try await runtime.run(services, adminRoutes: admin.routes)
        } catch {
            for endpoint in endpoints { await endpoint.shutdown() }
            throw error
        }
        for endpoint in endpoints { await endpoint.shutdown() }
    }
}
