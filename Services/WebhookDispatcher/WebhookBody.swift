import IoTSocket
import NIOCore

/// The JSON bodies of webhooks (PROTOCOL.md, "IoTSocket over HTTP(S)").
enum WebhookBody {
    /// `{"UID": …, "Payload": …, "Format": …}` for a request or telemetry webhook.
    /// - Throws: ``PayloadConversionError`` when the object's payload does not match its format
    ///   (it cannot be put in JSON).
    static func encode(uid: UID, payload: PayloadBlock) throws(PayloadConversionError) -> [UInt8] {
        let json = try payload.jsonPayload()
        return JSONValue(object: [("UID", .string(uid.string)), ("Payload", json), ("Format", .string(payload.format.name))])
            .serialized()
    }

    /// Reads the central's `{"Code": int, "Payload": …, "Format": …}`. `Payload` and `Format`
    /// may both be absent (an empty binary payload).
    /// - Throws: ``CentralAnswerError`` naming what is wrong.
    static func decodeAnswer(_ body: ByteBuffer) throws(CentralAnswerError) -> (code: ResponseCode, payload: PayloadBlock) {
        let json: JSONValue
        do {
            json = try JSONValue(parsing: body)
        } catch {
            throw .notJSON("\(error)")
        }
        guard json.objectMembers != nil else { throw .notJSON("not an object") }
        guard let code = json["Code"]?.intValue, let byte = UInt8(exactly: code) else {
            throw .badField("Code", problem: "missing or not an integer 0–255")
        }
        let payloadValue = json["Payload"]
        let formatValue = json["Format"]
        if payloadValue == nil && formatValue == nil {
            return (ResponseCode(byte), .empty)
        }
        guard let name = formatValue?.stringValue, let format = PayloadFormat(name: name) else {
            throw .badField("Format", problem: "missing or not one of JSON, ASCII, UTF8, BINARY")
        }
        guard let payloadValue else { throw .badField("Payload", problem: "missing") }
        do {
            return (ResponseCode(byte), try PayloadBlock(jsonPayload: payloadValue, format: format))
        } catch {
            throw .payload("\(error)")
        }
    }
}
