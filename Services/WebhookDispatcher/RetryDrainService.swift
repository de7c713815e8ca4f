import Logging
import ServiceKit
import ServiceLifecycle

/// Drains the telemetry retry set: every instance leases due messages, delivers them and writes
/// what became of them (delivered: removed; failed again: rescheduled; exhausted or disabled:
/// dead-lettered).
///
/// A lease lasts ``DispatcherSettings/telemetryReclaimAfter``, longer than a round can take, so
/// two instances never attempt one message at once unless one of them died.
struct RetryDrainService: Service {
    let delivery: TelemetryDelivery
    let store: TelemetryRetryStore
    let lease: Duration
    let logger: Logger
    /// How often to look when nothing is due.
    var pollInterval: Duration = .milliseconds(250)

    func run() async {
        var failures = 0
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                let now = WallClock.milliseconds()
                let leased = try await self.store.lease(
                    nowMilliseconds: now, leaseUntilMilliseconds: now + self.lease.inMilliseconds, count: 256)
                failures = 0
                if leased.isEmpty {
                    await Self.pause(self.pollInterval)
                    continue
                }
                let dispositions = await self.delivery.deliver(leased)
                try await self.store.apply(Array(zip(leased, dispositions)), fromRetrySet: true, nowMilliseconds: WallClock.milliseconds())
            } catch {
                failures += 1
                // Leased messages not written back become due again when their lease ends.
                self.logger.warning("telemetry retry round failed", metadata: ["error": "\(error)", "attempt": "\(failures)"])
                await Self.pause(.seconds(min(failures, 5)))
            }
        }
    }

    /// Sleeps, waking early on graceful shutdown.
    private static func pause(_ duration: Duration) async {
        try? await cancelWhenGracefulShutdown { try await Task.sleep(for: duration) }
    }
}
