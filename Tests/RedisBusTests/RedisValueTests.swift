import RedisBus
import Testing

@Suite("RedisValue and RedisError")
struct RedisValueTests {
    @Test("accessors convert the reply kinds they make sense for")
    func accessors() {
        #expect(RedisValue.simpleString("OK").string == "OK")
        #expect(RedisValue.bulkString(Array("42".utf8)).int == 42)
        #expect(RedisValue.bulkString(Array("1.5".utf8)).double == 1.5)
        #expect(RedisValue.bulkString(Array("-inf".utf8)).double == -.infinity)
        #expect(RedisValue.integer(7).string == "7")
        #expect(RedisValue.integer(7).bytes == nil)
        #expect(RedisValue.null.string == nil)
        #expect(RedisValue.null.isNull)
        #expect(RedisValue.array([.integer(1)]).array == [.integer(1)])
        #expect(RedisValue.error("ERR x").errorMessage == "ERR x")
        #expect(RedisValue.error("ERR x").string == nil)
    }

    @Test("server error helpers read the error code")
    func serverErrorHelpers() {
        let noGroup = RedisError.server(message: "NOGROUP No such key 's' or consumer group 'g'", command: "XREADGROUP")
        #expect(noGroup.isNoGroup)
        #expect(!noGroup.isBusyGroup)
        #expect(noGroup.serverErrorCode == "NOGROUP")
        #expect(RedisError.server(message: "BUSYGROUP Consumer Group name already exists", command: "XGROUP").isBusyGroup)
        #expect(RedisError.server(message: "NOSCRIPT No matching script.", command: "EVALSHA").isNoScript)
        #expect(!RedisError.connectionClosed(address: "h:1").isNoGroup)
        #expect(RedisError.connectionClosed(address: "h:1").isConnectionFailure)
        #expect("\(RedisError.connectionRefused(address: "h:1", reason: "refused"))".contains("h:1"))
    }

    @Test("stream entries look fields up by name, in stored order")
    func streamEntryFields() {
        let entry = StreamEntry(
            id: "1-0",
            fields: [.init(name: "a", value: [1]), .init(name: "b", value: Array("x".utf8)), .init(name: "a", value: [2])]
        )
        #expect(entry["a"] == [1])
        #expect(entry.string("b") == "x")
        #expect(entry["missing"] == nil)
        #expect(entry.fields.map(\.name) == ["a", "b", "a"])
    }

    @Test("backoff grows exponentially, stays under the cap and within the jitter")
    func backoff() {
        let backoff = ReconnectBackoff(initialDelay: .milliseconds(100), maximumDelay: .seconds(1), multiplier: 2, jitter: 0.2)
        for _ in 0..<50 {
            let first = backoff.delay(afterFailures: 1)
            #expect(first >= .milliseconds(80) && first <= .milliseconds(120))
            let third = backoff.delay(afterFailures: 3)
            #expect(third >= .milliseconds(320) && third <= .milliseconds(480))
            let late = backoff.delay(afterFailures: 40)
            #expect(late >= .milliseconds(800) && late <= .seconds(1))
        }
        let steady = ReconnectBackoff(initialDelay: .milliseconds(10), maximumDelay: .milliseconds(40), jitter: 0)
        func close(_ actual: Duration, _ expected: Duration) -> Bool {
            actual - expected < .microseconds(1) && expected - actual < .microseconds(1)
        }
        #expect(close(steady.delay(afterFailures: 1), .milliseconds(10)))
        #expect(close(steady.delay(afterFailures: 2), .milliseconds(20)))
        #expect(close(steady.delay(afterFailures: 10), .milliseconds(40)))
    }
}
