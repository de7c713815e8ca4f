import Logging
import NIOCore

/// Holds ``RedisClient``'s one multiplexed connection and replaces it when it is lost.
///
/// Confined to the client's event loop (kept in a `NIOLoopBoundBox`), so its state needs no
/// lock. A lost connection starts a reconnect cycle at once: attempts spaced by
/// ``ReconnectBackoff``, each logged, until one succeeds or the client is closed. Commands
/// arriving meanwhile wait for the cycle, each for at most its own limit.
final class RedisConnectionKeeper {
    private let url: RedisURL
    private let configuration: RedisConnection.Configuration
    private let backoff: ReconnectBackoff
    private let eventLoop: any EventLoop
    private let logger: Logger

    private var connection: RedisConnection?
    /// The reconnect cycle in progress, completed with the next connection.
    private var pending: EventLoopPromise<RedisConnection>?
    private var retry: Scheduled<Void>?
    private var failures = 0
    private var lastFailure: RedisError?
    private var isClosed = false

    init(url: RedisURL, configuration: RedisConnection.Configuration, backoff: ReconnectBackoff, eventLoop: any EventLoop, logger: Logger) {
        self.url = url
        self.configuration = configuration
        self.backoff = backoff
        self.eventLoop = eventLoop
        self.logger = logger
    }

    /// Writes a batch on the current connection, first waiting up to `wait` for one if needed.
    func submit(_ buffer: ByteBuffer, replyCount: Int, label: String, timeout: Duration?, wait: Duration) -> EventLoopFuture<[RedisValue]> {
        if let connection = self.connection, connection.isActive {
            return connection.submit(buffer, replyCount: replyCount, label: label, timeout: timeout)
        }
        return self.connection(waitingAtMost: wait).flatMap { connection in
            connection.submit(buffer, replyCount: replyCount, label: label, timeout: timeout)
        }
    }

    /// The live connection, or the next one if it arrives within `wait`.
    func connection(waitingAtMost wait: Duration) -> EventLoopFuture<RedisConnection> {
        if self.isClosed {
            return self.eventLoop.makeFailedFuture(RedisError.closed)
        }
        if let connection = self.connection, connection.isActive {
            return self.eventLoop.makeSucceededFuture(connection)
        }
        let cycle = self.startReconnecting()
        let promise = self.eventLoop.makePromise(of: RedisConnection.self)
        let timer = self.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(wait)) {
            let reason = self.lastFailure.map { "not connected within \(wait); last attempt: \($0)" } ?? "not connected within \(wait)"
            promise.fail(RedisError.connectionRefused(address: self.url.address, reason: reason))
        }
        cycle.assumeIsolated().whenComplete { result in
            timer.cancel()
            promise.completeWith(result)
        }
        return promise.futureResult
    }

    /// Stops reconnecting and closes the connection; waiting commands fail with ``RedisError/closed``.
    func close() -> EventLoopFuture<Void> {
        self.isClosed = true
        self.retry?.cancel()
        self.retry = nil
        self.pending?.fail(RedisError.closed)
        self.pending = nil
        guard let connection = self.connection else { return self.eventLoop.makeSucceededVoidFuture() }
        self.connection = nil
        let closed = self.eventLoop.makePromise(of: Void.self)
        connection.channel.close(promise: nil)
        connection.closeFuture.cascade(to: closed)
        return closed.futureResult
    }

    private func startReconnecting() -> EventLoopFuture<RedisConnection> {
        if let pending = self.pending {
            return pending.futureResult
        }
        let promise = self.eventLoop.makePromise(of: RedisConnection.self)
        self.pending = promise
        self.attempt()
        return promise.futureResult
    }

    private func attempt() {
        guard !self.isClosed else { return }
        RedisConnection.makeConnection(to: self.url, configuration: self.configuration, on: self.eventLoop)
            .assumeIsolated()
            .whenComplete { result in
                switch result {
                case .success(let connection):
                    self.adopt(connection)
                case .failure(let error):
                    self.attemptFailed(error as? RedisError ?? .connectionRefused(address: self.url.address, reason: "\(error)"))
                }
            }
    }

    private func adopt(_ connection: RedisConnection) {
        guard !self.isClosed else {
            connection.channel.close(promise: nil)
            return
        }
        if self.failures > 0 {
            self.logger.info("Redis reconnected", metadata: ["redis": "\(self.url.address)", "failedAttempts": "\(self.failures)"])
        } else {
            self.logger.debug("Redis connected", metadata: ["redis": "\(self.url.address)"])
        }
        self.connection = connection
        self.failures = 0
        self.lastFailure = nil
        let pending = self.pending
        self.pending = nil
        connection.closeFuture.assumeIsolated().whenComplete { _ in
            self.lost(connection)
        }
        pending?.succeed(connection)
    }

    private func lost(_ connection: RedisConnection) {
        guard self.connection === connection else { return }
        self.connection = nil
        guard !self.isClosed else { return }
        self.logger.warning("Redis connection lost, reconnecting", metadata: ["redis": "\(self.url.address)"])
        _ = self.startReconnecting()
    }

    private func attemptFailed(_ error: RedisError) {
        self.failures += 1
        self.lastFailure = error
        guard !self.isClosed else { return }
        let delay = self.backoff.delay(afterFailures: self.failures)
        self.logger.warning(
            "Redis connect attempt failed",
            metadata: [
                "redis": "\(self.url.address)",
                "attempt": "\(self.failures)",
                "retryInMs": "\(delay.wholeMilliseconds)",
                "error": "\(error)",
            ]
        )
        self.retry = self.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(delay)) {
            self.retry = nil
            self.attempt()
        }
    }
}
