import RedisBus
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

    @Test("by default delivers only entries added after it started, in order, none skipped")
    func readsNewEntriesInOrder() async throws {
        try await withRedisClient { client, _ in
            try await client.xadd("iots:gw:1", fields: [("n", "old")])
            let log = DeliveryLog()
            let reader = StreamReader(client: client, configuration: Self.configuration(), logger: testLogger) { entries in
                _ = await log.record(entries)
            }
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { await reader.run() }
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
                group.cancelAll()
            }
        }
    }

    @Test("an explicit start ID delivers what follows it")
    func explicitStart() async throws {
        try await withRedisClient { client, _ in
            let first = try await client.xadd("iots:gw:1", fields: [("n", "1")])
            let second = try await client.xadd("iots:gw:1", fields: [("n", "2")])
            let log = DeliveryLog()
            let reader = StreamReader(client: client, configuration: Self.configuration(startID: first), logger: testLogger) { entries in
                _ = await log.record(entries)
            }
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { await reader.run() }
                #expect(await eventually { await log.counts.count == 1 })
                #expect(await log.deliveries.flatMap(\.ids) == [second])
                group.cancelAll()
            }
        }
    }

    @Test("keeps reading after Redis restarts")
    func survivesRestart() async throws {
        try await withRedisClient { client, redis in
            let log = DeliveryLog()
            let reader = StreamReader(client: client, configuration: Self.configuration(startID: "0"), logger: testLogger) { entries in
                _ = await log.record(entries)
            }
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { await reader.run() }
                try await client.xadd("iots:gw:1", fields: [("n", "before")])
                #expect(await eventually { await log.values.contains("before") })
                try await redis.restart(empty: true)
                try await Task.sleep(for: .milliseconds(5))
                try await client.xadd("iots:gw:1", fields: [("n", "after")])
                #expect(await eventually(timeout: .seconds(10)) { await log.values.contains("after") })
                group.cancelAll()
            }
        }
    }
}
