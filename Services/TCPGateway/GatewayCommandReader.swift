import Logging
import Messaging
import RedisBus
import ServiceKit
import ServiceLifecycle

/// Follows this instance's own stream (`<prefix>gw:<instance>`) and executes each
/// `GatewayCommand` on the connection it names, in stream order.
///
/// Graceful exit reads on after the drain until the stream has been quiet for a second (five
/// at most): the router goes on routing to the drained sessions until it has read their
/// session-closed events, and those frames go back to it (``ConnectionRegistry`` remembers the
/// closed sessions) to be held for the kept sessions. Then the stream is deleted.
struct GatewayCommandReader: Service {
    let environment: GatewayEnvironment
    let redis: RedisClient
    var lingering = StreamReader.Lingering(quietPeriod: .seconds(1), limit: .seconds(5))

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
        await reader.runThenDeleteStream(redis: self.redis, logger: environment.logger, lingering: self.lingering)
    }
}
