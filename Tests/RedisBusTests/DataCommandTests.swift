import RedisBus
import TestSupport
import Testing

@Suite("Hash, key and sorted-set commands")
struct DataCommandTests {
    @Test("HSET, HGET, HGETALL, HDEL, HINCRBY")
    func hashes() async throws {
        try await withRedisClient { client, _ in
            #expect(try await client.hset("presence:42", fields: [("gateway", "gw-1"), ("connection", .integer(7))]) == 2)
            #expect(try await client.hset("presence:42", fields: [("gateway", "gw-2")]) == 0)
            #expect(try await client.hgetString("presence:42", field: "gateway") == "gw-2")
            #expect(try await client.hget("presence:42", field: "missing") == nil)
            #expect(try await client.hget("nohash", field: "x") == nil)
            let all = try await client.hgetall("presence:42")
            #expect(all == ["gateway": Array("gw-2".utf8), "connection": Array("7".utf8)])
            #expect(try await client.hgetall("nohash").isEmpty)
            #expect(try await client.hincrby("presence:42", field: "connection", by: 3) == 10)
            #expect(try await client.hdel("presence:42", fields: ["gateway", "missing"]) == 1)
            #expect(try await client.hgetall("presence:42").keys.sorted() == ["connection"])
        }
    }

    @Test("SET with NX/XX and EX/PX, GET, DEL, EXISTS, EXPIRE, PEXPIRE, PTTL")
    func keys() async throws {
        try await withRedisClient { client, _ in
            #expect(try await client.set("lock", to: "owner-1", expiry: .seconds(30), condition: .ifNotExists))
            #expect(try await !client.set("lock", to: "owner-2", condition: .ifNotExists))
            #expect(try await client.getString("lock") == "owner-1")
            let ttl = try await client.pttl("lock")
            #expect(ttl > 25_000 && ttl <= 30_000)

            #expect(try await !client.set("absent", to: "x", condition: .ifExists))
            #expect(try await client.get("absent") == nil)

            try await client.set("short", to: "x", expiry: .milliseconds(1500))
            #expect(try await client.exists("short"))
            let remaining = try await client.pttl("short")
            #expect(remaining > 0 && remaining <= 1500)
            #expect(await eventually(timeout: .seconds(5)) { (try? await client.exists("short")) == false })

            try await client.set("a", to: "1")
            #expect(try await client.pttl("a") == -1)
            #expect(try await client.expire("a", seconds: 100))
            #expect(try await client.pttl("a") > 90_000)
            #expect(try await client.pexpire("a", milliseconds: 5_000))
            #expect(try await client.pttl("a") <= 5_000)
            #expect(try await !client.expire("missing", seconds: 1))
            #expect(try await !client.pexpire("missing", milliseconds: 1))
            #expect(try await client.pttl("missing") == -2)

            try await client.set("b", to: "2")
            #expect(try await client.exists(["a", "b", "missing"]) == 2)
            #expect(try await client.del(["a", "b", "missing"]) == 2)
            #expect(try await !client.del("a"))
        }
    }

    @Test("ZADD, ZRANGEBYSCORE with bounds and LIMIT, ZSCORE, ZREM, ZCARD")
    func sortedSets() async throws {
        try await withRedisClient { client, _ in
            let added = try await client.zadd(
                "deadlines",
                members: [(1000, "r1"), (2000, "r2"), (3000, "r3"), (1500.5, "r4")]
            )
            #expect(added == 4)
            #expect(try await client.zcard("deadlines") == 4)
            let due = try await client.zrangebyscore("deadlines", min: .negativeInfinity, max: 2000)
            #expect(due.map { String(decoding: $0, as: UTF8.self) } == ["r1", "r4", "r2"])
            let page = try await client.zrangebyscore("deadlines", min: .negativeInfinity, max: .positiveInfinity, limit: (1, 2))
            #expect(page.map { String(decoding: $0, as: UTF8.self) } == ["r4", "r2"])
            let exclusive = try await client.zrangebyscore("deadlines", min: .exclusive(1000), max: .exclusive(3000))
            #expect(exclusive.map { String(decoding: $0, as: UTF8.self) } == ["r4", "r2"])
            let scored = try await client.zrangebyscoreWithScores("deadlines", min: 1500, max: 1600)
            #expect(scored.count == 1)
            #expect(scored.first?.score == 1500.5)
            #expect(try await client.zscore("deadlines", member: "r3") == 3000)
            #expect(try await client.zscore("deadlines", member: "none") == nil)
            // Two sweepers racing: only one removes the entry.
            #expect(try await client.zrem("deadlines", members: ["r1"]) == 1)
            #expect(try await client.zrem("deadlines", members: ["r1"]) == 0)
            #expect(try await client.zadd("deadlines", members: [(5000, "r2")]) == 0)
            #expect(try await client.zscore("deadlines", member: "r2") == 5000)
        }
    }
}
