import RedisBus
import TestSupport
import Testing

@Suite("Stream commands")
struct StreamCommandTests {
    @Test("XADD keeps field order; XLEN, XRANGE, XREVRANGE, XDEL")
    func appendAndRange() async throws {
        try await withRedisClient { client, _ in
            let first = try await client.xadd("s", fields: [("b", "2"), ("a", "1")])
            let second = try await client.xadd("s", fields: [("only", .integer(3))])
            #expect(try await client.xlen("s") == 2)
            #expect(try await client.xlen("missing") == 0)
            let entries = try await client.xrange("s")
            #expect(entries.map(\.id) == [first, second])
            #expect(entries[0].fields.map(\.name) == ["b", "a"])
            #expect(entries[0].string("a") == "1")
            #expect(entries[1].string("only") == "3")
            #expect(try await client.xrevrange("s", count: 1).map(\.id) == [second])
            #expect(try await client.xdel("s", ids: [first]) == 1)
            #expect(try await client.xrange("s").map(\.id) == [second])
        }
    }

    @Test("XADD with an exact MAXLEN trims the stream")
    func trimming() async throws {
        try await withRedisClient { client, _ in
            for index in 0..<50 {
                try await client.xadd("trimmed", fields: [("n", .integer(index))], maxLength: 10, approximateTrim: false)
            }
            #expect(try await client.xlen("trimmed") == 10)
            #expect(try await client.xrange("trimmed").first?.string("n") == "40")
            let appends = (0..<300).map { StreamAppend(stream: "approx", fields: [("n", .integer($0))], maxLength: 100) }
            _ = try await client.xadd(appends)
            let length = try await client.xlen("approx")
            #expect(length >= 100 && length < 300)
        }
    }

    @Test("a batched XADD reports a refused entry in place and keeps the others")
    func batchWithFailure() async throws {
        try await withRedisClient { client, _ in
            let results = try await client.xadd([
                StreamAppend(stream: "s", fields: [("n", 1)]),
                StreamAppend(stream: "s", id: "0-0", fields: [("n", 2)]),
                StreamAppend(stream: "s", fields: [("n", 3)]),
            ])
            #expect(results.count == 3)
            #expect((try? results[0].get()) != nil)
            #expect((try? results[2].get()) != nil)
            guard case .failure(let error) = results[1] else {
                Issue.record("XADD with ID 0-0 should fail")
                return
            }
            #expect(error.serverErrorCode == "ERR")
            #expect(try await client.xlen("s") == 2)
        }
    }

    @Test("group lifecycle: create (BUSYGROUP ignored), read, pending, ack, claim, info")
    func groupLifecycle() async throws {
        try await withRedisClient { client, _ in
            #expect(try await client.createGroup("jobs", group: "workers", startID: "0"))
            #expect(try await !client.createGroup("jobs", group: "workers", startID: "0"))
            let ids = try await (0..<3).asyncMap { try await client.xadd("jobs", fields: [("job", .integer($0))]) }

            let firstRead = try await client.xreadgroup(group: "workers", consumer: "c1", stream: "jobs", count: 2)
            #expect(firstRead.map(\.id) == Array(ids.prefix(2)))
            #expect(firstRead.map { $0.string("job") } == ["0", "1"])

            var summary = try await client.xpendingSummary("jobs", group: "workers")
            #expect(summary.count == 2)
            #expect(summary.smallestID == ids[0])
            #expect(summary.greatestID == ids[1])
            #expect(summary.consumers == ["c1": 2])

            #expect(try await client.xack("jobs", group: "workers", ids: [ids[0]]) == 1)
            #expect(try await client.xack("jobs", group: "workers", ids: [ids[0]]) == 0)

            // Still idle less than a minute: nothing to claim.
            let early = try await client.xautoclaim("jobs", group: "workers", consumer: "c2", minIdle: .seconds(60))
            #expect(early.entries.isEmpty)
            #expect(early.isComplete)
            try await Task.sleep(for: .milliseconds(50))
            let claim = try await client.xautoclaim("jobs", group: "workers", consumer: "c2", minIdle: .milliseconds(20))
            #expect(claim.entries.map(\.id) == [ids[1]])
            #expect(claim.entries.first?.string("job") == "1")
            summary = try await client.xpendingSummary("jobs", group: "workers")
            #expect(summary.consumers == ["c2": 1])

            let groups = try await client.xinfoGroups("jobs")
            #expect(groups.count == 1)
            #expect(groups.first?.name == "workers")
            #expect(groups.first?.pending == 1)
            #expect(groups.first?.lastDeliveredID == ids[1])
            #expect(groups.first?.lag == 1)

            #expect(try await client.destroyGroup("jobs", group: "workers"))
            #expect(try await client.xinfoGroups("jobs").isEmpty)
        }
    }

    @Test("XAUTOCLAIM reports pending entries that were deleted")
    func claimDeleted() async throws {
        try await withRedisClient { client, _ in
            try await client.createGroup("s", group: "g", startID: "0")
            let kept = try await client.xadd("s", fields: [("n", 1)])
            let deleted = try await client.xadd("s", fields: [("n", 2)])
            _ = try await client.xreadgroup(group: "g", consumer: "c1", stream: "s")
            try await client.xdel("s", ids: [deleted])
            let claim = try await client.xautoclaim("s", group: "g", consumer: "c2", minIdle: .zero)
            #expect(claim.entries.map(\.id) == [kept])
            #expect(claim.deletedIDs == [deleted])
        }
    }

    @Test("XREAD returns entries after an ID, per stream; a blocking read times out empty")
    func plainRead() async throws {
        try await withRedisClient { client, _ in
            let a = try await client.xadd("a", fields: [("n", 1)])
            let b = try await client.xadd("b", fields: [("n", 2)])
            let batches = try await client.xread(streams: [("a", "0"), ("b", "0")])
            #expect(batches.map(\.stream) == ["a", "b"])
            #expect(batches.map { $0.entries.map(\.id) } == [[a], [b]])
            #expect(try await client.xread(streams: [("a", a)]).isEmpty)

            let blocking = try await client.makeBlockingConnection()
            let started = ContinuousClock.now
            #expect(try await blocking.xread(streams: [("a", a)], block: .milliseconds(200)).isEmpty)
            #expect(started.duration(to: .now) >= .milliseconds(150))
            await blocking.close()
        }
    }
}

extension Sequence {
    /// Maps in order, awaiting each element (for sequential Redis writes in tests).
    fileprivate func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self {
            results.append(try await transform(element))
        }
        return results
    }
}
