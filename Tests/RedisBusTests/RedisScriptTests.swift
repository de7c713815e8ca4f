import RedisBus
import TestSupport
import Testing

@Suite("RedisScript")
struct RedisScriptTests {
    @Test(
        "the digest is SHA-1 of the source",
        arguments: [
            ("", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
            ("abc", "a9993e364706816aba3e25717850c26c9cd0d89d"),
            ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "84983e441c3bd26ebaae4aa1f95129e5e54670f1"),
            ("The quick brown fox jumps over the lazy dog", "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"),
        ]
    )
    func digest(source: String, expected: String) {
        #expect(RedisScript(source).sha1 == expected)
    }

    @Test("the local digest matches SCRIPT LOAD for a long script")
    func matchesServer() async throws {
        try await withRedisClient { client, _ in
            let source = "-- " + String(repeating: "padding ", count: 40) + "\nreturn redis.call('GET', KEYS[1])"
            let script = RedisScript(source)
            let digest = try await client.loadScript(script)
            #expect(digest == script.sha1)
        }
    }

    @Test("EVALSHA loads the script on NOSCRIPT (after SCRIPT FLUSH) and retries once")
    func loadsOnNoScript() async throws {
        try await withRedisClient { client, _ in
            let script = RedisScript(
                """
                local current = redis.call('INCRBY', KEYS[1], ARGV[1])
                redis.call('SET', KEYS[2], ARGV[2])
                return current
                """
            )
            #expect(try await client.send(["SCRIPT", "EXISTS", .string(script.sha1)]) == .array([.integer(0)]))
            #expect(try await client.evalsha(script, keys: ["count", "last"], arguments: [5, "first"]) == .integer(5))
            #expect(try await client.send(["SCRIPT", "EXISTS", .string(script.sha1)]) == .array([.integer(1)]))
            try await client.send(["SCRIPT", "FLUSH"])
            #expect(try await client.send(["SCRIPT", "EXISTS", .string(script.sha1)]) == .array([.integer(0)]))
            #expect(try await client.evalsha(script, keys: ["count", "last"], arguments: [2, .bytes(allBytes)]) == .integer(7))
            #expect(try await client.get("last") == allBytes)
        }
    }

    @Test("a failing script throws the server's error")
    func scriptError() async throws {
        try await withRedisClient { client, _ in
            let script = RedisScript("return redis.error_reply('DENIED not allowed')")
            do {
                try await client.evalsha(script)
                Issue.record("the script should fail")
            } catch let error as RedisError {
                #expect(error.serverErrorCode == "DENIED")
                #expect(!error.isNoScript)
            }
        }
    }
}
