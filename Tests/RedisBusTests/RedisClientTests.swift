import RedisBus
import TestSupport
import Testing

@Suite("RedisClient")
struct RedisClientTests {
    @Test("connects lazily and answers commands from many concurrent tasks")
    func concurrentSends() async throws {
        try await withRedisClient { client, _ in
            let values = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<200 {
                    group.addTask { try await client.incrby("shared") }
                }
                var values: [Int] = []
                for try await value in group { values.append(value) }
                return values
            }
            #expect(values.sorted() == Array(1...200))
            #expect(try await client.getString("shared") == "200")
        }
    }

    @Test("a pipeline of 256 XADDs is one batch and returns 256 increasing IDs")
    func pipelinedAppends() async throws {
        try await withRedisClient { client, _ in
            let appends = (0..<256).map { index in
                StreamAppend(stream: "bench", fields: [("n", .integer(index)), ("payload", .bytes(allBytes))], maxLength: 10_000)
            }
            let results = try await client.xadd(appends)
            let ids = try results.map { try $0.get() }
            #expect(ids.count == 256)
            #expect(Set(ids).count == 256)
            #expect(try await client.xlen("bench") == 256)
            let stored = try await client.xrange("bench")
            #expect(stored.map(\.id) == ids)
            #expect(stored.map { $0.string("n") } == (0..<256).map { "\($0)" })
        }
    }

    @Test("reconnects by itself after the server restarts")
    func reconnectAfterRestart() async throws {
        try await withRedisClient { client, redis in
            try await client.set("before", to: "1")
            #expect(try await client.exists("before"))
            try await redis.restart(empty: true)
            // No manual step: the next command waits for the reconnect and succeeds.
            #expect(try await client.send(["PING"]) == .simpleString("PONG"))
            #expect(try await !client.exists("before"))
            try await client.set("after", to: "2")
            #expect(try await client.getString("after") == "2")
        }
    }

    @Test("keeps data across a restart that keeps its snapshot")
    func restartKeepingData() async throws {
        try await withRedisClient { client, redis in
            try await client.set("kept", to: "yes")
            try await redis.restart(empty: false)
            #expect(try await client.getString("kept") == "yes")
        }
    }

    @Test("commands wait for a server that comes back within the wait limit")
    func waitsForReconnect() async throws {
        try await withRedisClient(configure: { $0.connectionWaitTimeout = .seconds(10) }) { client, redis in
            try await client.set("x", to: "1")
            redis.stop()
            #expect(await !client.isReachable(timeout: .milliseconds(300)))
            async let pong = client.send(["PING"])
            try await Task.sleep(for: .milliseconds(300))
            try await redis.restart(empty: true)
            #expect(try await pong == .simpleString("PONG"))
            #expect(await client.isReachable())
        }
    }

    @Test("a command fails with the address when no server shows up in time")
    func failsWhenUnreachable() async throws {
        let port = try FreePort.tcp()
        let client = RedisClient(
            configuration: .init(url: RedisURL(host: "127.0.0.1", port: port), connectionWaitTimeout: .milliseconds(300)),
            logger: testLogger
        )
        let started = ContinuousClock.now
        do {
            try await client.send(["PING"])
            Issue.record("PING should fail")
        } catch let error as RedisError {
            guard case .connectionRefused(let address, _) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(address == "127.0.0.1:\(port)")
        }
        // It gives up (after 300 ms of waiting) rather than retrying for as long as it takes; the
        // bound is loose because the whole suite shares 2 cores (3.9 s seen under that load).
        #expect(started.duration(to: .now) < .seconds(10))
        #expect(await !client.isReachable(timeout: .milliseconds(200)))
        await client.close()
    }

    @Test("isReachable answers true with a live server")
    func reachable() async throws {
        try await withRedisClient { client, _ in
            #expect(await client.isReachable())
        }
    }

    @Test("after close every command fails with .closed")
    func closeRejectsCommands() async throws {
        try await withRedisClient { client, _ in
            try await client.send(["PING"])
            await client.close()
            do {
                try await client.send(["PING"])
                Issue.record("a closed client should refuse commands")
            } catch let error as RedisError {
                #expect(error == .closed)
            }
            #expect(await !client.isReachable())
        }
    }

    @Test("a blocking read on its own connection does not stall the shared client")
    func blockingReaderDoesNotStall() async throws {
        try await withRedisClient { client, _ in
            let blocking = try await client.makeBlockingConnection()
            async let read = blocking.xread(streams: [("events", "$")], block: .seconds(20))
            try await Task.sleep(for: .milliseconds(100))
            for _ in 0..<20 {
                #expect(try await client.send(["PING"]) == .simpleString("PONG"))
            }
            // Had the shared connection waited behind the read, the PINGs would only have been
            // answered once the read timed out empty, and the entry below would never reach it.
            let id = try await client.xadd("events", fields: [("kind", "online")])
            let batches = try await read
            #expect(batches.first?.entries.map(\.id) == [id])
            await blocking.close()
        }
    }

    @Test("MULTI/EXEC runs as one batch and reports EXECABORT as a server error")
    func transactions() async throws {
        try await withRedisClient { client, _ in
            let results = try await client.transaction([["SET", "a", 1], ["INCR", "a"], ["GET", "a"]])
            #expect(results == [.simpleString("OK"), .integer(2), .bulkString(Array("2".utf8))])
            do {
                _ = try await client.transaction([["SET", "b", 1], ["INCR"]])
                Issue.record("a transaction with a malformed command should abort")
            } catch let error as RedisError {
                #expect(error.serverErrorCode == "EXECABORT")
            }
            #expect(try await !client.exists("b"))
        }
    }
}
