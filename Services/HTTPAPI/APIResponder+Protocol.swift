import Hummingbird
import IoTSocket

/// The IoTSocket-over-HTTP endpoints (PROTOCOL.md): `POST /acl` and `POST /request`.
extension APIResponder {
    /// `POST /acl`: validates the whole list, has the router replace the ACL, answers 200 with
    /// an empty body once it is applied.
    func replaceACL(body: JSONValue) async throws(APIError) -> Response {
        let entries = try ACLDocument.entries(from: body)
        try await self.environment.exchange.applyACL(.replace(entries), timeout: self.environment.aclTimeout)
        self.environment.logger.info("ACL replaced over HTTP", metadata: ["entries": "\(entries.count)"])
        return .empty()
    }

    /// `POST /request`: sends the request to the object and holds the call until its response
    /// or the timeout; always 200 `{"Code", "Payload", "Format"}` once the body is valid.
    func call(body: JSONValue) async throws(APIError) -> Response {
        let call = try CallRequest(json: body, maxWaitSeconds: self.environment.maxWaitSeconds)
        let answer = await self.environment.exchange.call(uid: call.uid, payload: call.payload, timeout: .seconds(call.timeoutSeconds))
        return .json(self.answered(answer, uid: call.uid))
    }

    /// Counts the answer and returns the call's body, `{"Code": int, "Payload": …, "Format":
    /// name}`. A payload that does not match its own format (a device sent JSON that does not
    /// parse, say) is returned as BINARY so the central still gets the bytes.
    func answered(_ answer: RouterExchange.Answer, uid: UID) -> JSONValue {
        self.environment.metrics.recordAnswer(answer.code)
        var payload: JSONValue
        var format = answer.payload.format
        do {
            payload = try answer.payload.jsonPayload()
        } catch {
            self.environment.metrics.payloadsReformatted.increment()
            self.environment.logger.warning(
                "response payload does not match its format; returned as BINARY",
                metadata: ["uid": "\(uid)", "format": "\(format.name)", "error": "\(error)"])
            format = .binary
            payload = .array(answer.payload.data.map { JSONValue($0) })
        }
        return ["Code": JSONValue(answer.code.rawValue), "Payload": payload, "Format": .string(format.name)]
    }
}
