import Testing

@testable import ServiceKit

@Suite("Structured log lines")
struct LogLineTests {
    @Test("values are quoted only when logfmt needs it")
    func quoting() {
        #expect(StructuredLogHandler.quoted("ObjTest") == "ObjTest")
        #expect(StructuredLogHandler.quoted("session opened") == "\"session opened\"")
        #expect(StructuredLogHandler.quoted("a=b") == "\"a=b\"")
        #expect(StructuredLogHandler.quoted("") == "\"\"")
        #expect(StructuredLogHandler.quoted("say \"hi\"\n") == "\"say \\\"hi\\\"\\n\"")
    }

    @Test("timestamps are UTC ISO 8601 with milliseconds")
    func timestamp() {
        let stamp = StructuredLogHandler.timestamp()
        #expect(stamp.count == 24)
        #expect(stamp.hasSuffix("Z"))
        #expect(stamp[stamp.index(stamp.startIndex, offsetBy: 10)] == "T")
    }
}
