import RedisBus
import Testing

@Suite("RedisURL")
struct RedisURLTests {
    @Test("host only gets the default port and database 0")
    func hostOnly() throws {
        let url = try RedisURL("redis://redis")
        #expect(url.host == "redis")
        #expect(url.port == 6379)
        #expect(url.database == 0)
        #expect(url.password == nil)
        #expect(url.username == nil)
        #expect(url.address == "redis:6379")
    }

    @Test("password, port and database")
    func passwordPortDatabase() throws {
        let url = try RedisURL("redis://:s3cret@10.0.0.5:6380/2")
        #expect(url.host == "10.0.0.5")
        #expect(url.port == 6380)
        #expect(url.password == "s3cret")
        #expect(url.username == nil)
        #expect(url.database == 2)
    }

    @Test("user and percent-encoded password")
    func userAndEncodedPassword() throws {
        let url = try RedisURL("redis://iots:p%40ss%3Aword@cache.local:7000/0")
        #expect(url.username == "iots")
        #expect(url.password == "p@ss:word")
        #expect(url.host == "cache.local")
        #expect(url.port == 7000)
    }

    @Test("IPv6 host in brackets")
    func ipv6() throws {
        let url = try RedisURL("redis://[::1]:6390")
        #expect(url.host == "::1")
        #expect(url.port == 6390)
        #expect(url.address == "[::1]:6390")
    }

    @Test("trailing slash means database 0; scheme is case-insensitive")
    func trailingSlash() throws {
        let url = try RedisURL("REDIS://localhost:6379/")
        #expect(url.database == 0)
        #expect(url.host == "localhost")
    }

    @Test("a Unix domain socket: path, optional password and ?db=N")
    func unixSocket() throws {
        let plain = try RedisURL("unix:///run/redis/redis.sock")
        #expect(plain.socketPath == "/run/redis/redis.sock")
        #expect(plain.address == "/run/redis/redis.sock")
        #expect(plain.database == 0)
        #expect(plain.password == nil)
        #expect(plain.description == "unix:///run/redis/redis.sock")

        let full = try RedisURL("UNIX://iots:p%40ss@/tmp/r.sock?db=3")
        #expect(full.socketPath == "/tmp/r.sock")
        #expect(full.username == "iots")
        #expect(full.password == "p@ss")
        #expect(full.database == 3)
        #expect(full.description == "unix://iots:***@/tmp/r.sock?db=3")
        #expect(try RedisURL("redis://h:1").socketPath == nil)
    }

    @Test("description hides the password")
    func descriptionRedacts() throws {
        let url = try RedisURL("redis://user:hunter2@h:1/3")
        #expect(!url.description.contains("hunter2"))
        #expect(url.description == "redis://user:***@h:1/3")
    }

    @Test(
        "bad URLs name what is wrong",
        arguments: [
            ("localhost:6379", "scheme"),
            ("http://localhost", "scheme 'http'"),
            ("rediss://localhost", "TLS"),
            ("redis://", "missing host"),
            ("redis://:6379", "missing host"),
            ("redis://localhost:abc", "port 'abc'"),
            ("redis://localhost:0", "port '0'"),
            ("redis://localhost:70000", "port '70000'"),
            ("redis://localhost/x", "database 'x'"),
            ("redis://localhost/-1", "database '-1'"),
            ("redis://[::1", "closing ']'"),
            ("redis://user@localhost", "without a password"),
            ("redis://:@localhost", "empty password"),
            ("redis://:p%zz@localhost", "percent-encoding"),
            ("redis://localhost?db=1", "query"),
            ("unix://", "missing socket path"),
            ("unix:///", "missing socket path"),
            ("unix://localhost/tmp/r.sock", "has no host"),
            ("unix:///tmp/r.sock?timeout=1", "'?db=N'"),
            ("unix:///tmp/r.sock?db=-1", "'?db=N'"),
            ("unix://user@/tmp/r.sock", "without a password"),
            ("unix://:@/tmp/r.sock", "empty password"),
        ]
    )
    func badURL(text: String, expectedReason: String) throws {
        do {
            _ = try RedisURL(text)
            Issue.record("'\(text)' parsed but should not")
        } catch let error as RedisError {
            guard case .invalidURL(_, let reason) = error else {
                Issue.record("unexpected error \(error)")
                return
            }
            #expect(reason.contains(expectedReason), "reason '\(reason)' should mention '\(expectedReason)'")
        }
    }

    @Test("an invalid URL error never contains the password")
    func errorRedactsPassword() {
        do {
            _ = try RedisURL("redis://:topsecret@host:notaport")
            Issue.record("parsed but should not")
        } catch {
            #expect(!String(describing: error).contains("topsecret"))
            #expect(String(describing: error).contains("notaport"))
        }
    }
}
