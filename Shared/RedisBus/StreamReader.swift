import Logging

/// Reads a per-instance stream (`iots:gw:<id>`, `iots:api:<id>`) with `XREAD … BLOCK` on its
/// own connection and hands each batch to a handler, in order.
///
/// No consumer group: the instance is the stream's only reader. By default it starts after
/// the stream's newest entry at start-up (resolved to a concrete ID, so nothing appended
/// between two reads is skipped) and then follows the last ID it delivered, across reconnects.
/// A handler failure is logged and the batch is not retried.
///
/// Stopping: cancel the task running ``run()``; a read in progress ends within
/// ``Configuration-swift.struct/block`` and its batch is still delivered.
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

    /// The configuration in force.
    public let configuration: Configuration
    private let client: RedisClient
    private let logger: Logger
    private let handler: Handler

    /// - Parameters:
    ///   - client: Supplies the server address and limits; the reader opens its own connection.
    ///   - configuration: Stream and pace.
    ///   - logger: Where to log; the client's logger by default.
    ///   - handler: Processes each batch.
    public init(client: RedisClient, configuration: Configuration, logger: Logger? = nil, handler: @escaping Handler) {
        self.client = client
        self.configuration = configuration
        self.logger = logger ?? client.logger
        self.handler = handler
    }

    /// Reads until the task is cancelled.
    public func run() async {
        var loop = ConsumerLoopState()
        var lastID = self.configuration.startID
        let metadata: Logger.Metadata = ["stream": "\(self.configuration.stream)"]
        while !Task.isCancelled {
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
                let batches = try await connection.xread(
                    streams: [(self.configuration.stream, after)],
                    count: self.configuration.batchSize,
                    block: self.configuration.block
                )
                guard let entries = batches.first?.entries, let newest = entries.last else { continue }
                lastID = newest.id
                do {
                    try await self.handler(entries)
                } catch {
                    self.logger.error(
                        "stream reader handler failed",
                        metadata: metadata.merging(["entries": "\(entries.count)", "error": "\(error)"]) { $1 }
                    )
                }
            } catch {
                loop.failures += 1
                await loop.dropConnection()
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
}
