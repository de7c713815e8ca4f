import Logging
import RedisBus
import TestSupport

/// The logger tests hand to clients and consumers: warnings and worse only.
let testLogger: Logger = {
    var logger = Logger(label: "redisbus-tests")
    logger.logLevel = .warning
    return logger
}()

/// Runs `body` with a fresh `redis-server` and a client on it; stops both however `body` ends.
func withRedisClient<T>(
    configure: (inout RedisClient.Configuration) -> Void = { _ in },
    _ body: (RedisClient, TestRedis) async throws -> T
) async throws -> T {
    let redis = try await TestRedis.start()
    defer { redis.stop() }
    var configuration = RedisClient.Configuration(url: redis.redisURL)
    configure(&configuration)
    let client = RedisClient(configuration: configuration, logger: testLogger)
    do {
        let result = try await body(client, redis)
        await client.close()
        return result
    } catch {
        await client.close()
        throw error
    }
}

/// Every byte value once, for binary-safety checks.
let allBytes: [UInt8] = Array(0...255)

/// The two ways a stream loop can hand batches over: an async handler, or one run on the
/// Redis client's event loop (futures). Loop tests run in both.
enum HandlerMode: String, CaseIterable, Sendable {
    case task
    case eventLoop
}

/// A consumer in `mode` around the async `handler` (in event-loop mode, wrapped in a future).
func makeConsumer(
    _ mode: HandlerMode, client: RedisClient, configuration: StreamConsumer.Configuration, logger: Logger,
    turn: (any ConsumerTurn)? = nil, handler: @escaping StreamConsumer.Handler
) -> StreamConsumer {
    switch mode {
    case .task:
        return StreamConsumer(client: client, configuration: configuration, logger: logger, turn: turn, handler: handler)
    case .eventLoop:
        return StreamConsumer(client: client, configuration: configuration, logger: logger, turn: turn, onEventLoop: { entries in
            client.eventLoop.makeFutureWithTask { try await handler(entries) }
        })
    }
}
