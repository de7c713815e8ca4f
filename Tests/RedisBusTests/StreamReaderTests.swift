import NIOPosix
import RedisBus
import Synchronization
import TestSupport
import Testing

@Suite("StreamReader")
struct StreamReaderTests {
    private static func configuration(startID: String? = nil) -> StreamReader.Configuration {
        StreamReader.Configuration(
            stream: "iots:gw:1",
            startID: startID,
            batchSize: 10,
            block: .milliseconds(100),
            reconnect: ReconnectBackoff(initialDelay: .milliseconds(20), maximumDelay: .milliseconds(200))
        )
    }

    /// Runs `body` while a reader in `delivery` mode records what it delivers in `log`, in order,
    /// then stops it; for the event-loop mode, also checks that every batch arrived on an event
    /// loop's thread.
    private static func withReader(
        _ delivery: HandlerMode,
        client: RedisClient,
        configuration: StreamReader.Configuration,
        log: DeliveryLog,
        _ body: () async throws -> Void
    ) async throws {
        let (batches, continuation) = AsyncStream.makeStream(of: [StreamEntry].self)
        let offLoop = Atomic<Int>(0)
        let reader: StreamReader
        switch delivery {
        case .task:
            reader = StreamReader(client: client, configuration: configuration, logger: testLogger) { entries in
                _ = await log.record(entries)
            }
        case .eventLoop:
            reader = StreamReader(client: client, configuration: configuration, logger: testLogger, onEventLoop: { entries in
                if MultiThreadedEventLoopGroup.currentEventLoop == nil {
                    offLoop.add(1, ordering: .relaxed)
                }
                continuation.yield(entries)
            })
        }
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await reader.run() }
            group.addTask {
                for await entries in batches {
                    _ = await log.record(entries)
                }
            }
            try await body()
            group.cancelAll()
        }
        #expect(offLoop.load(ordering: .relaxed) == 0, "batches handed over off the event loop")
    }

    @Test("by default delivers only entries added after it started, in order, none skipped", arguments: HandlerMode.allCases)
    func readsNewEntriesInOrder(delivery: HandlerMode) async throws {
        try await withRedisClient { client, _ in
            try await client.xadd("iots:gw:1", fields: [("n", "old")])
            let log = DeliveryLog()
            try await Self.withReader(delivery, client: client, configuration: Self.configuration(), log: log) {
                // "Started" is when the reader resolved its start: prove it by a marker it
                // delivers (a fixed sleep fails on a loaded machine), then count from there.
                var markers: Set<String> = []
                for attempt in 0..<200 where await log.deliveries.isEmpty {
                    markers.insert(try await client.xadd("iots:gw:1", fields: [("n", .string("marker-\(attempt)"))]))
                    try await Task.sleep(for: .milliseconds(50))
                }
                var ids: [String] = []
                for index in 0..<25 {
                    ids.append(try await client.xadd("iots:gw:1", fields: [("n", .integer(index))]))
                    if index % 10 == 0 { try await Task.sleep(for: .milliseconds(150)) }
                }
                #expect(await eventually { await log.deliveries.flatMap(\.ids).filter { !markers.contains($0) }.count == 25 })
                let delivered = await log.deliveries.flatMap(\.ids).filter { !markers.contains($0) }
                #expect(delivered == ids)
                #expect(await !log.values.contains("old"))
            }
        }
    }

    @Test("an explicit start ID delivers what follows it", arguments: HandlerMode.allCases)
    func explicitStart(delivery: HandlerMode) async throws {
        try await withRedisClient { client, _ in
            let first = try await client.xadd("iots:gw:1", fields: [("n", "1")])
            let second = try await client.xadd("iots:gw:1", fields: [("n", "2")])
            let log = DeliveryLog()
            try await Self.withReader(delivery, client: client, configuration: Self.configuration(startID: first), log: log) {
                #expect(await eventually { await log.counts.count == 1 })
                #expect(await log.deliveries.flatMap(\.ids) == [second])
            }
        }
    }

    @Test("keeps reading after Redis restarts", arguments: HandlerMode.allCases)
    func survivesRestart(delivery: HandlerMode) async throws {
        try await withRedisClient { client, redis in
            let log = DeliveryLog()
            try await Self.withReader(delivery, client: client, configuration: Self.configuration(startID: "0"), log: log) {
                try await client.xadd("iots:gw:1", fields: [("n", "before")])
                #expect(await eventually { await log.values.contains("before") })
                try await redis.restart(empty: true)
                try await Task.sleep(for: .milliseconds(5))
                try await client.xadd("iots:gw:1", fields: [("n", "after")])
                #expect(await eventually(timeout: .seconds(10)) { await log.values.contains("after") })
            }
        }
    }

    @Test("asked to finish, it reads on while entries keep coming, then returns once the stream is quiet", arguments: HandlerMode.allCases)
    func finishesWhenQuiet(delivery: HandlerMode) async throws {
        try await withRedisClient { client, _ in
            let seen = SeenValues()
            let configuration = Self.configuration(startID: "0")
            let reader: StreamReader
            switch delivery {
            case .task:
                reader = StreamReader(client: client, configuration: configuration, logger: testLogger) { seen.record($0) }
            case .eventLoop:
                reader = StreamReader(client: client, configuration: configuration, logger: testLogger, onEventLoop: { seen.record($0) })
            }
            // Generous against the 500 ms pause below: the whole suite runs in parallel on 2 cores.
            let finish = StreamReader.Finish(quietPeriod: .seconds(2))
            let ended = SeenValues()
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask {
                    await reader.run(finishing: finish)
                    ended.record(marker: "ended")
                }
                try await client.xadd("iots:gw:1", fields: [("n", "before")])
                #expect(await eventually { seen.values.contains("before") })

                finish.request()
                for index in 0..<3 {
                    try await client.xadd("iots:gw:1", fields: [("n", .string("during-\(index)"))])
                }
                try await Task.sleep(for: .milliseconds(500))
                // Before the appends: the reader may see an entry before its XADD's reply is back.
                let lastAppend = ContinuousClock.now
                for index in 3..<5 {
                    try await client.xadd("iots:gw:1", fields: [("n", .string("during-\(index)"))])
                }
                #expect(await eventually(timeout: .seconds(15)) { ended.values == ["ended"] }, "the reader did not return by itself")
                let endedAt = ContinuousClock.now
                #expect(endedAt - lastAppend >= .seconds(2), "returned before the stream was quiet for the period")
                #expect(finish.isDone)
                #expect(seen.values == ["before"] + (0..<5).map { "during-\($0)" })

                try await client.xadd("iots:gw:1", fields: [("n", "after")])
                try await Task.sleep(for: .milliseconds(300))
                #expect(!seen.values.contains("after"))
                group.cancelAll()
            }
        }
    }
}

/// Values of field `n` in the order delivered, recorded from any thread.
private final class SeenValues: Sendable {
    private let state = Mutex<[String]>([])

    var values: [String] { self.state.withLock { $0 } }

    func record(_ entries: [StreamEntry]) {
        let values = entries.compactMap { $0.string("n") }
        self.state.withLock { $0 += values }
    }

    func record(marker: String) {
        self.state.withLock { $0.append(marker) }
    }
}
