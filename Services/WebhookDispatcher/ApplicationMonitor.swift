import Logging
import Messaging
import ServiceKit
import ServiceLifecycle

/// Keeps the applications' shared state and this instance's view of it in step, once a second:
/// registers the configured applications (again after Redis restarted empty), adds this
/// instance's activity to their status records, picks up enable/disable done through any
/// instance, and exports statuses, backlogs and circuit states as metrics.
struct ApplicationMonitor: Service {
    let endpoints: [WebhookEndpoint]
    let trackers: [WebhookApplication: ApplicationTracker]
    let statusStore: ApplicationStatusStore
    let retryStore: TelemetryRetryStore
    let settings: DispatcherSettings
    let logger: Logger
    var interval: Duration = .seconds(1)

    func run() async {
        var registered = false
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                if !registered {
                    try await self.register()
                    registered = true
                }
                registered = try await self.refresh()
            } catch {
                self.logger.warning("application status refresh failed", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.interval) }
        }
        // Last report, so counts of this instance's final deliveries are not lost.
        try? await self.report()
    }

    /// Registers what is configured and unregisters what is not.
    private func register() async throws {
        let now = WallClock.milliseconds()
        for application in WebhookApplication.allCases {
            if let url = self.settings.urls[application] {
                try await self.statusStore.register(
                    application, url: url, inactiveAfterMilliseconds: self.settings.inactiveAfterMilliseconds, nowMilliseconds: now)
                self.logger.info(
                    "webhook application registered",
                    metadata: ["application": "\(application)", "url": "\(ApplicationStatus.withoutCredentials(url))"])
            } else {
                try await self.statusStore.unregister(application)
            }
        }
    }

    /// Reports activity and reads statuses back.
    /// - Returns: false when a record is missing (Redis lost it): register again.
    private func refresh() async throws -> Bool {
        try await self.report()
        let now = WallClock.milliseconds()
        var complete = true
        for endpoint in self.endpoints {
            let generation = self.trackers[endpoint.application]?.generation ?? 0
            guard let status = try await self.statusStore.status(of: endpoint.application) else {
                complete = false
                continue
            }
            self.trackers[endpoint.application]?.syncDisabled(status.disabled, readAfter: generation)
            endpoint.metrics.record(state: status.state(atMilliseconds: now))
            endpoint.metrics.circuitState.record(endpoint.breaker.phase().rawValue)
            if endpoint.application == .telemetry {
                let backlog = try await self.retryStore.backlog()
                endpoint.metrics.retryBacklog.record(backlog.retrying)
                endpoint.metrics.deadLetterBacklog.record(backlog.deadLettered)
            }
        }
        return complete
    }

    private func report() async throws {
        for (application, tracker) in self.trackers {
            let activity = tracker.takeActivity()
            do {
                try await self.statusStore.record(activity, for: application)
            } catch {
                tracker.restoreActivity(activity)
                throw error
            }
        }
    }
}
