import IoTSocket
import Testing

@Suite("Response and close codes")
struct CodeTests {
    @Test func responseCodeTable() {
        let table: [(ResponseCode, UInt8, String)] = [
            (.valid, 0x00, "valid"),
            (.notValid, 0x01, "not valid"),
            (.destinationNotFound, 0xA0, "destination not found"),
            (.timeout, 0xA1, "timeout"),
            (.trackingInProgress, 0xA2, "tracking number in progress"),
        ]
        #expect(ResponseCode.known == table.map(\.0))
        for (code, raw, meaning) in table {
            #expect(code.rawValue == raw)
            #expect(code.meaning == meaning)
            #expect(ResponseCode(rawValue: raw) == code)
        }
        #expect(ResponseCode.destinationNotFound.rawValue == 160)
        #expect(ResponseCode.timeout.rawValue == 161)
        #expect(ResponseCode.timeout.description == "0xa1 (timeout)")
    }

    @Test func unknownResponseCodesAreKept() {
        let code = ResponseCode(0x42)
        #expect(code.rawValue == 0x42)
        #expect(code.meaning == nil)
        #expect(code.description == "0x42 (unknown)")
    }

    @Test func closeCodeTableAndKeptSessions() {
        let table: [(CloseCode, UInt8, String, Bool)] = [
            (.protocolError, 0x00, "protocol error", false),
            (.maintenance, 0x01, "maintenance", false),
            (.tooManyTransmissions, 0x02, "too many transmissions", false),
            (.internalError, 0x03, "internal error", false),
            (.sleeping, 0xA0, "sleeping", true),
            (.freeingResources, 0xA1, "freeing resources", true),
        ]
        #expect(CloseCode.known == table.map(\.0))
        for (code, raw, meaning, keeps) in table {
            #expect(code.rawValue == raw)
            #expect(code.meaning == meaning)
            #expect(code.keepsSession == keeps)
        }
        for raw in UInt8.min...UInt8.max where raw != 0xA0 && raw != 0xA1 {
            #expect(!CloseCode(raw).keepsSession)
        }
        #expect(CloseCode(0x7E).meaning == nil)
        #expect(CloseCode.sleeping.description == "0xa0 (sleeping)")
    }
}
