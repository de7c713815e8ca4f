import IoTSocket
import RedisBus

/// What an http-api instance reads from its own stream `iots:api:<id>`: the outcome of one
/// waiting HTTP call, matched by `correlation`.
///
/// Fields: `id` (correlation) and either `code` + `p` (a request's response code and payload
/// block wire bytes) or `acl` (`ok`, or the reason an ACL change was refused).
public enum APIReply: Sendable, Equatable {
    case response(correlation: String, code: ResponseCode, payload: PayloadBlock)
    case aclApplied(correlation: String, outcome: String)

    public var correlation: String {
        switch self {
        case .response(let correlation, _, _), .aclApplied(let correlation, _): correlation
        }
    }

    public var fields: [(name: String, value: RedisArgument)] {
        switch self {
        case .response(let correlation, let code, let payload):
            [("id", .string(correlation)), ("code", .integer(Int(code.rawValue))), ("p", .bytes(PayloadBlock.wireBytes(payload)))]
        case .aclApplied(let correlation, let outcome):
            [("id", .string(correlation)), ("acl", .string(outcome))]
        }
    }

    /// - Throws: `MessageError` naming the entry and the field.
    public init(entry: StreamEntry) throws(MessageError) {
        guard let correlation = entry.string("id") else { throw MessageError(entry: entry.id, field: "id", problem: "missing") }
        if let outcome = entry.string("acl") {
            self = .aclApplied(correlation: correlation, outcome: outcome)
            return
        }
        guard let code = entry.string("code").flatMap({ UInt8($0) }) else {
            throw MessageError(entry: entry.id, field: "code", problem: "missing or not 0–255")
        }
        guard let bytes = entry["p"], let payload = PayloadBlock.fromWireBytes(bytes) else {
            throw MessageError(entry: entry.id, field: "p", problem: "missing or not a payload block")
        }
        self = .response(correlation: correlation, code: ResponseCode(code), payload: payload)
    }
}
