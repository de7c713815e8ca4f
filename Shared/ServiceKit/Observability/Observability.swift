import Logging
import Metrics
import Prometheus
import Synchronization

/// The process-wide logging and metrics backends, set up once at start.
///
/// swift-log and swift-metrics may each be bootstrapped only once per process; `bootstrap` is
/// idempotent so tests and tools can call it freely.
public enum Observability {
    /// The registry `/metrics` renders.
    public static let registry = PrometheusCollectorRegistry()

    private static let bootstrapped = Mutex(false)

    /// Installs the structured log handler at `level` (with `service` and `instance` on every
    /// line) and the Prometheus metrics backend.
    public static func bootstrap(service: String, instance: String, level: Logger.Level) {
        let first = Self.bootstrapped.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        LoggingSystem.bootstrap { label in
            StructuredLogHandler(label: label, level: level, metadata: ["service": "\(service)", "instance": "\(instance)"])
        }
        var factory = PrometheusMetricsFactory(registry: Self.registry)
        factory.defaultDurationHistogramBuckets = [
            .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
            .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
            .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(30),
        ]
        MetricsSystem.bootstrap(factory)
    }

    /// The metrics in Prometheus text exposition format.
    public static func renderMetrics() -> [UInt8] {
        Self.registry.emitToBuffer()
    }
}
