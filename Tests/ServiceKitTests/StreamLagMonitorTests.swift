import RedisBus
import ServiceKit
import TestSupport
import Testing

@Suite("StreamLagMonitor")
struct StreamLagMonitorTests {
    @Test("lag counts entries not yet delivered to the group, pending those delivered and not acknowledged")
    func lagAndPending() async throws {
        let redis = try await TestRedis.start()
        defer { redis.stop() }
        let client = try RedisClient(url: redis.url)
        let monitor = StreamLagMonitor(redis: client, groups: [("work", "g"), ("missing", "g")])

        #expect(await monitor.sample().map(\.lag) == [nil, nil], "no stream yet")
        _ = try await client.createGroup("work", group: "g", startID: "0", makeStream: true)
        for index in 0..<5 {
            _ = try await client.xadd("work", fields: [("n", .integer(index))])
        }
        var work = await monitor.sample()[0]
        #expect(work.lag == 5)
        #expect(work.pending == 0)

        let read = try await client.xreadgroup(group: "g", consumer: "c", stream: "work", id: ">", count: 2, block: nil)
        work = await monitor.sample()[0]
        #expect(work.lag == 3)
        #expect(work.pending == 2)

        _ = try await client.xack("work", group: "g", ids: [read[0].id])
        work = await monitor.sample()[0]
        #expect(work.lag == 3)
        #expect(work.pending == 1)
        await client.close()
    }
}
