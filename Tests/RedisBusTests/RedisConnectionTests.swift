import RedisBus
import TestSupport
import Testing

@Suite("RedisConnection")
struct RedisConnectionTests {
    @Test("PING, SET and GET round-trip")
    func roundTrip() async throws {
        let redis = try await TestRedis.start()
        defer { redis.stop() }
        let connection = try await RedisConnection.connect(to: redis.redisURL)
        #expect(try await connection.send(["PING"]) == .simpleString("PONG"))
        #expect(try await connection.send("SET", "greeting", "hello") == .simpleString("OK"))
        #expect(try await connection.send(["GET", "greeting"]).string == "hello")
        #expect(try await connection.send(["GET", "missing"]) == .null)
        #expect(try await connection.send(["INCRBY", "counter", 41]) == .integer(41))
        await connection.close()
        #expect(!connection.isActive)
    }

    @Test("a pipeline of 1000 commands returns every reply in order")
    func pipelineOrder() async throws {
        let redis = try await TestRedis.start()
        defer { redis.stop() }
        let connection = try await RedisConnection.connect(to: redis.redisURL)
        var commands: [[RedisArgument]] = []
        for index in 0..<500 {
            commands.append(["INCR", "seq"])
            commands.append(["SET", "k\(index)", .integer(index * 3)])
        }
        let replies = try await connection.pipeline(commands)
        #expect(replies.count == 1000)
        for index in 0..<500 {
            #expect(replies[2 * index] == .integer(index + 1))
            #expect(replies[2 * index + 1] == .simpleString("OK"))
        }
        let reads = try await connection.pipeline((0..<500).map { ["GET", "k\($0)"] })
        #expect(reads.map(\.int) == (0..<500).map { $0 * 3 })
        await connection.close()
    }

    @Test("concurrent pipelines on one connection each get their own replies")
    func concurrentPipelines() async throws {
        let redis = try await TestRedis.start()
        defer { redis.stop() }
        let connection = try await RedisConnection.connect(to: redis.redisURL)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<20 {
                group.addTask {
                    let replies = try await connection.pipeline((0..<50).map { ["ECHO", "t\(task)-\($0)"] })
                    #expect(replies.map(\.string) == (0..<50).map { "t\(task)-\($0)" })
                }
            }
            try await group.waitForAll()
        }
        await connection.close()
    }

    @Test("an error reply throws a typed server error from send and stays in place in a pipeline")
    func errorReplies() async throws {
        let redis = try await TestRedis.start()
        defer { redis.stop() }
        let connection = try await RedisConnection.connect(to: redis.redisURL)
        try await connection.send(["SET", "text", "not a number"])
        do {
            try await connection.send(["INCR", "text"])
            Issue.record("INCR on text should fail")
        } catch let error as RedisError {
            guard case .server(let message, let command) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(command == "INCR")
            #expect(message.hasPrefix("ERR"))
            #expect(error.serverErrorCode == "ERR")
        }
        let replies = try await connection.pipeline([["SET", "n", 1], ["INCR", "text"], ["INCR", "n"]])
        #expect(replies[0] == .simpleString("OK"))
        #expect(replies[1].errorMessage?.hasPrefix("ERR") == true)
        #expect(replies[2] == .integer(2))

        try await connection.send(["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"])
        await #expect(throws: RedisError.self) { try await connection.send(["XGROUP", "CREATE", "s", "g", "$"]) }
        do {
            try await connection.send(["XGROUP", "CREATE", "s", "g", "$"])
        } catch let error as RedisError {
            #expect(error.isBusyGroup)
        }
        do {
            _ = try await connection.xreadgroup(group: "nogroup", consumer: "c", stream: "s")
            Issue.record("reading a missing group should fail")
        } catch let error as RedisError {
            #expect(error.isNoGroup)
        }
        // The connection is still usable after error replies.
        #expect(try await connection.send(["PING"]) == .simpleString("PONG"))
        await connection.close()
    }

    @Test("values and fields are binary safe (bytes 0x00–0xFF), large values included")
    func binarySafe() async throws {
        let redis = try await TestRedis.start()
        defer { redis.stop() }
        let connection = try await RedisConnection.connect(to: redis.redisURL)
        try await connection.set("bin", to: .bytes(allBytes))
        #expect(try await connection.get("bin") == allBytes)

        let large = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try await connection.set("large", to: .bytes(large))
        #expect(try await connection.get("large") == large)

        try await connection.hset("h", fields: [("payload", .bytes(allBytes)), ("crlf", .bytes([13, 10, 13, 10]))])
        #expect(try await connection.hget("h", field: "payload") == allBytes)
        #expect(try await connection.hget("h", field: "crlf") == [13, 10, 13, 10])

        let id = try await connection.xadd("s", fields: [("payload", .bytes(allBytes)), ("empty", .bytes([]))])
        let entries = try await connection.xrange("s")
        #expect(entries.map(\.id) == [id])
        #expect(entries.first?["payload"] == allBytes)
        #expect(entries.first?["empty"] == [])
        await connection.close()
    }

    @Test("AUTH and SELECT run on connect; a wrong password is a typed server error")
    func authAndSelect() async throws {
        let redis = try await TestRedis.start()
        defer { redis.stop() }
        let admin = try await RedisConnection.connect(to: redis.redisURL)
        try await admin.send(["CONFIG", "SET", "requirepass", "s3cret"])

        let url = try RedisURL("redis://:s3cret@127.0.0.1:\(redis.port)/3")
        let connection = try await RedisConnection.connect(to: url)
        try await connection.set("in-db-3", to: "yes")
        #expect(try await connection.send(["DBSIZE"]) == .integer(1))
        let check = try await RedisConnection.connect(to: try RedisURL("redis://:s3cret@127.0.0.1:\(redis.port)/0"))
        #expect(try await check.send(["DBSIZE"]) == .integer(0))
        #expect(try await check.send(["SELECT", 3]) == .simpleString("OK"))
        #expect(try await check.getString("in-db-3") == "yes")

        do {
            _ = try await RedisConnection.connect(to: try RedisURL("redis://:wrong@127.0.0.1:\(redis.port)"))
            Issue.record("a wrong password should be refused")
        } catch let error as RedisError {
            guard case .server(let message, let command) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(command == "AUTH")
            #expect(message.contains("WRONGPASS") || message.contains("invalid password"))
        }
        await connection.close()
        await check.close()
        await admin.close()
    }

    @Test("over a Unix domain socket, with AUTH and SELECT; a missing socket fails with its path")
    func unixSocket() async throws {
        let redis = try await TestRedis.start(unixSocket: true)
        defer { redis.stop() }
        let socketPath = try #require(redis.socketPath)
        let admin = try await RedisConnection.connect(to: redis.redisURL)
        try await admin.send(["CONFIG", "SET", "requirepass", "s3cret"])

        let connection = try await RedisConnection.connect(to: try RedisURL("unix://:s3cret@\(socketPath)?db=2"))
        try await connection.set("over-unix", to: "yes")
        // The server saw this client on the socket, not on TCP.
        let info = try await connection.send(["CLIENT", "INFO"]).string ?? ""
        // `addr=<path>:0`, cut short when the path is long: the socket's path, not a `host:port`.
        let address = info.split(separator: " ").first { $0.hasPrefix("addr=") }?.dropFirst(5) ?? ""
        #expect(address.hasPrefix("/") && "\(socketPath):0".hasPrefix(address), "\(info)")
        #expect(try await admin.send(["SELECT", 2]) == .simpleString("OK"))
        #expect(try await admin.getString("over-unix") == "yes")
        await connection.close()
        await admin.close()

        let missing = "\(redis.directory)/absent.sock"
        do {
            _ = try await RedisConnection.connect(to: RedisURL(socketPath: missing))
            Issue.record("connect should fail")
        } catch let error as RedisError {
            guard case .connectionRefused(let address, _) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(address == missing)
        }
    }

    @Test("connecting where nothing listens fails with the address")
    func connectionRefused() async throws {
        let port = try FreePort.tcp()
        do {
            _ = try await RedisConnection.connect(to: RedisURL(host: "127.0.0.1", port: port))
            Issue.record("connect should fail")
        } catch let error as RedisError {
            guard case .connectionRefused(let address, _) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(address == "127.0.0.1:\(port)")
        }
    }

    @Test("a reply past its timeout fails with a typed timeout and closes the connection")
    func timeout() async throws {
        let redis = try await TestRedis.start()
        defer { redis.stop() }
        let connection = try await RedisConnection.connect(to: redis.redisURL)
        let started = ContinuousClock.now
        do {
            try await connection.send(["BLPOP", "nothing", 5], timeout: .milliseconds(200))
            Issue.record("BLPOP should time out")
        } catch let error as RedisError {
            guard case .timeout(let address, let command, let timeout) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(address == "127.0.0.1:\(redis.port)")
            #expect(command == "BLPOP")
            #expect(timeout == .milliseconds(200))
        }
        #expect(started.duration(to: .now) < .seconds(2))
        #expect(await eventually { !connection.isActive })
        await #expect(throws: RedisError.self) { try await connection.send(["PING"]) }
    }

    @Test("a server going away fails waiting commands with connectionClosed")
    func serverGone() async throws {
        let redis = try await TestRedis.start()
        let connection = try await RedisConnection.connect(to: redis.redisURL)
        async let blocked = connection.send(["BLPOP", "nothing", 10], timeout: .seconds(20))
        try await Task.sleep(for: .milliseconds(100))
        redis.stop()
        do {
            _ = try await blocked
            Issue.record("the command should fail when the server dies")
        } catch let error as RedisError {
            #expect(error == .connectionClosed(address: "127.0.0.1:\(redis.port)"))
        }
    }
}
