import IoTSocket
import Messaging
import RedisBus
import Testing

/// Gateway messages on the router stream: what a gateway writes is what the router reads.
@Suite("Router messages from gateways")
struct RouterMessageTests {
    private static func entry(_ message: RouterMessage) -> StreamEntry {
        StreamEntry.written(message.fields)
    }

    @Test func gatewayKindsRoundTrip() throws {
        let address = RouterMessage.ConnectionAddress(uid: try UID("PLC-7"), gateway: "gw-a", connection: "k1.0.7")
        let messages: [RouterMessage] = [
            .sessionOpened(.init(address: address, maxTransmissionLength: 512, remoteAddress: "10.0.0.9:4000", aclKeyFingerprint: "ab")),
            .sessionClosed(.init(address: address, code: .sleeping)),
            .sessionClosed(.init(address: address, code: nil)),
            .transmission(address, frame: [0x10]),
            .returned(address, frame: [0x40, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00]),
        ]
        for message in messages {
            #expect(try RouterMessage(entry: Self.entry(message)) == message)
        }
        #expect(Self.entry(.returned(address, frame: [1])).string("t") == "back")
    }

    @Test func returnedFrameWithoutBytesIsRefused() throws {
        let address = RouterMessage.ConnectionAddress(uid: try UID("PLC-7"), gateway: "gw-a", connection: "k1.0.7")
        let fields = Self.entry(.returned(address, frame: [1])).fields.filter { $0.name != "f" }
        #expect(throws: MessageError.self) { try RouterMessage(entry: StreamEntry(id: "2-0", fields: fields)) }
    }
}
