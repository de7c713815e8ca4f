import Logging
import NIOCore
import Synchronization

/// Reads a per-instance stream (`iots:gw:<id>`, `iots:api:<id>`) with `XREAD … BLOCK` on its
/// own connection and hands each batch to a handler, in order.
///
/// No consumer group: the instance is the stream's only reader. By default it starts after
/// the stream's newest entry at start-up (resolved to a concrete ID, so nothing appended
/// between two reads is skipped) and then follows the last ID it delivered, across reconnects.
/// A handler failure is logged and the batch is not retried.
///
/// A handler given with `onEventLoop:` runs synchronously on the event loop of the reader's
/// connection, and the reads follow one another there as future callbacks: no thread is woken
/// for a batch but the loop's (an async handler costs a hop to Swift Concurrency's pool and
/// back for every read). The tcp-gateway delivers its commands to connections this way.
///
/// Stopping: cancel the task running ``run(finishing:)``; a read in progress ends within
/// ``Configuration-swift.struct/block`` and its batch is still delivered. To read on until the
/// stream goes quiet instead (what others still append for this instance), pass a ``Finish``
/// and call its ``Finish/request()``.
public struct StreamReader: Sendable {
    /// Which stream to follow and at what pace.
    public struct Configuration: Sendable {
        /// The stream key.
        public var stream: String
        /// The ID to read after; `nil` (default) means "after the newest entry at start-up".
        public var startID: String?
        /// The most entries per handler call.
        public var batchSize: Int
        /// How long one read waits; also bounds how long stopping takes.
        public var block: Duration
        /// Spacing of reconnect attempts.
        public var reconnect: ReconnectBackoff

        /// - Parameters:
        ///   - stream: The stream key.
        ///   - startID: Where to start; after the newest entry by default.
        ///   - batchSize: Entries per batch, 128 by default.
        ///   - block: Read wait, 1 s by default.
        ///   - reconnect: Backoff between reconnect attempts.
        public init(
            stream: String,
            startID: String? = nil,
            batchSize: Int = 128,
            block: Duration = .seconds(1),
            reconnect: ReconnectBackoff = ReconnectBackoff()
        ) {
            self.stream = stream
            self.startID = startID
            self.batchSize = max(1, batchSize)
            self.block = block
            self.reconnect = reconnect
        }
    }

    /// Receives each batch of new entries, oldest first.
    public typealias Handler = @Sendable (_ entries: [StreamEntry]) async throws -> Void
    /// Receives each batch of new entries, oldest first, on the connection's event loop; it
    /// must not block.
    public typealias LoopHandler = @Sendable (_ entries: [StreamEntry]) -> Void

    private enum Delivery: Sendable {
        case task(Handler)
        case eventLoop(LoopHandler)
    }

    /// The configuration in force.
    public let configuration: Configuration
    private let client: RedisClient
    private let logger: Logger
    private let delivery: Delivery

    /// - Parameters:
    ///   - client: Supplies the server address and limits; the reader opens its own connection.
    ///   - configuration: Stream and pace.
    ///   - logger: Where to log; the client's logger by default.
    ///   - handler: Processes each batch.
    public init(client: RedisClient, configuration: Configuration, logger: Logger? = nil, handler: @escaping Handler) {
        self.client = client
        self.configuration = configuration
        self.logger = logger ?? client.logger
        self.delivery = .task(handler)
    }

    /// A reader whose handler runs on the connection's event loop (see the type's documentation).
    ///
    /// - Parameters:
    ///   - client: Supplies the server address and limits; the reader opens its own connection.
    ///   - configuration: Stream and pace.
    ///   - logger: Where to log; the client's logger by default.
    ///   - handler: Processes each batch on the event loop; must not block.
    public init(client: RedisClient, configuration: Configuration, logger: Logger? = nil, onEventLoop handler: @escaping LoopHandler) {
        self.client = client
        self.configuration = configuration
        self.logger = logger ?? client.logger
        self.delivery = .eventLoop(handler)
    }

    /// Reads until the task is cancelled or, when `finish` is given, until it was requested
    /// and the stream has stayed quiet for its period.
    public func run(finishing finish: Finish? = nil) async {
        var loop = ConsumerLoopState()
        var lastID = self.configuration.startID
        let metadata: Logger.Metadata = ["stream": "\(self.configuration.stream)"]
        while !Task.isCancelled && !(finish?.isDone ?? false) {
            do {
                let connection = try await loop.connection(from: self.client)
                if loop.failures > 0 {
                    self.logger.info("stream reader reconnected", metadata: metadata.merging(["failedAttempts": "\(loop.failures)"]) { $1 })
                    loop.failures = 0
                }
                let after: String
                if let lastID {
                    after = lastID
                } else {
                    after = try await connection.xrevrange(self.configuration.stream, count: 1).first?.id ?? "0-0"
                    lastID = after
                }
                switch self.delivery {
                case .task(let handler):
                    let batches = try await connection.xread(
                        streams: [(self.configuration.stream, after)],
                        count: self.configuration.batchSize,
                        block: self.configuration.block
                    )
                    guard let entries = batches.first?.entries, let newest = entries.last else {
                        _ = finish?.finishIfQuiet()
                        continue
                    }
                    finish?.entriesDelivered()
                    lastID = newest.id
                    do {
                        try await handler(entries)
                    } catch {
                        self.logger.error(
                            "stream reader handler failed",
                            metadata: metadata.merging(["entries": "\(entries.count)", "error": "\(error)"]) { $1 }
                        )
                    }
                case .eventLoop(let handler):
                    let cursor = ReadCursor(after: after, finish: finish)
                    defer { lastID = cursor.lastID }
                    try await withTaskCancellationHandler {
                        try await self.follow(on: connection, cursor: cursor, handler: handler).get()
                    } onCancel: {
                        cursor.stop()
                    }
                }
            } catch {
                loop.failures += 1
                await loop.dropConnection()
                if finish?.isRequested == true {
                    // Finishing, and Redis cannot be read: there is nothing to wait for.
                    self.logger.warning("stream reader stopped: Redis unreachable while finishing", metadata: metadata.merging(["error": "\(error)"]) { $1 })
                    break
                }
                let delay = self.configuration.reconnect.delay(afterFailures: loop.failures)
                self.logger.warning(
                    "stream reader failed, retrying",
                    metadata: metadata.merging(["attempt": "\(loop.failures)", "retryInMs": "\(delay.wholeMilliseconds)", "error": "\(error)"]) { $1 }
                )
                do {
                    try await Task.sleep(for: delay)
                } catch {
                    break
                }
            }
        }
        await loop.dropConnection()
    }

    /// Reads and delivers batch after batch as callbacks on the connection's event loop until
    /// `cursor` is stopped (the future succeeds) or a read fails (it fails).
    private func follow(on connection: RedisConnection, cursor: ReadCursor, handler: @escaping LoopHandler) -> EventLoopFuture<Void> {
        let promise = connection.eventLoop.makePromise(of: Void.self)
        self.readNext(on: connection, cursor: cursor, handler: handler, promise: promise)
        return promise.futureResult
    }

    private func readNext(on connection: RedisConnection, cursor: ReadCursor, handler: @escaping LoopHandler, promise: EventLoopPromise<Void>) {
        guard !cursor.isStopped else {
            promise.succeed()
            return
        }
        connection.xreadFuture(self.configuration.stream, after: cursor.lastID, count: self.configuration.batchSize, block: self.configuration.block)
            .whenComplete { result in
                switch result {
                case .success(let entries):
                    if let newest = entries.last {
                        cursor.lastID = newest.id
                        cursor.finish?.entriesDelivered()
                        handler(entries)
                    } else if cursor.finish?.finishIfQuiet() == true {
                        promise.succeed()
                        return
                    }
                    self.readNext(on: connection, cursor: cursor, handler: handler, promise: promise)
                case .failure(let error):
                    promise.fail(error)
                }
            }
    }
}

/// Where an event-loop reader is (the last ID delivered) and whether it was asked to stop;
/// shared by the loop's callbacks and the task that waits for them.
private final class ReadCursor: Sendable {
    private struct State {
        var lastID: String
        var stopped = false
    }

    private let state: Mutex<State>
    let finish: StreamReader.Finish?

    init(after: String, finish: StreamReader.Finish?) {
        self.state = Mutex(State(lastID: after))
        self.finish = finish
    }

    var lastID: String {
        get { self.state.withLock { $0.lastID } }
        set { self.state.withLock { $0.lastID = newValue } }
    }

    var isStopped: Bool { self.state.withLock { $0.stopped } }

    func stop() {
        self.state.withLock { $0.stopped = true }
    }
}
