import Logging
import Messaging
import RedisBus
import ServiceKit
import ServiceLifecycle

/// Follows this instance's own stream (`<prefix>gw:<instance>`) and executes each
/// `GatewayCommand` on the connection it names, in stream order.
///
/// Graceful exit deletes the stream: nothing is left for a connection that no longer exists.
struct GatewayCommandReader: Service {
    let environment: GatewayEnvironment
    let redis: RedisClient

    func run() async {
        let environment = self.environment
        let stream = environment.keys.gatewayStream(environment.instanceID)
        let reader = StreamReader(
            client: self.redis,
            configuration: .init(stream: stream, batchSize: 512, block: .milliseconds(500)),
            logger: environment.logger,
            onEventLoop: { entries in
            var commands: [GatewayCommand] = []
            commands.reserveCapacity(entries.count)
            for entry in entries {
                do {
                    commands.append(try GatewayCommand(entry: entry))
                } catch {
                    environment.metrics.droppedMalformedCommand.increment()
                    environment.logger.warning("malformed gateway command", metadata: ["stream": "\(stream)", "error": "\(error)"])
                }
            }
            environment.registry.deliver(commands)
        })
        await reader.runThenDeleteStream(redis: self.redis, logger: environment.logger)
    }
}
