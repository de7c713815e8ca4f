import IoTSocket
import NIOCore
import RedisBus

/// An ACL change made over HTTP: the whole list (`POST /acl`), one entry added or changed
/// (`PUT /devices/{uid}`) or removed (`DELETE /devices/{uid}`). The router applies it (it is
/// the ACL's single writer) and confirms with an `APIReply` on `replyStream`.
///
/// Fields: `t`=`acl`, `op` (`replace`, `put`, `remove`), `api`, `id`, and `f` (an ACL
/// transmission's wire bytes holding the entries; for `remove`, one entry whose key is ignored).
public struct ACLUpdate: Sendable, Equatable {
    public enum Change: Sendable, Equatable {
        case replace([ACLEntry])
        case put(ACLEntry)
        case remove(UID)
    }

    public var change: Change
    public var replyStream: String
    public var correlation: String

    public init(change: Change, replyStream: String, correlation: String) {
        self.change = change
        self.replyStream = replyStream
        self.correlation = correlation
    }

    public var fields: [(name: String, value: RedisArgument)] {
        let operation: String
        let entries: [ACLEntry]
        switch self.change {
        case .replace(let all):
            operation = "replace"
            entries = all
        case .put(let entry):
            operation = "put"
            entries = [entry]
        case .remove(let uid):
            operation = "remove"
            entries = [ACLEntry(group: Self.placeholderGroup, uid: uid, key: Self.placeholderKey)]
        }
        var buffer = ByteBuffer()
        Transmission.acl(entries).write(to: &buffer)
        return [
            ("t", "acl"), ("op", .string(operation)), ("api", .string(self.replyStream)), ("id", .string(self.correlation)),
            ("f", .buffer(buffer)),
        ]
    }

    /// - Throws: `MessageError` naming the entry and the field.
    public init(entry: StreamEntry) throws(MessageError) {
        guard let replyStream = entry.string("api"), let correlation = entry.string("id") else {
            throw MessageError(entry: entry.id, field: "api/id", problem: "missing")
        }
        guard let bytes = entry["f"] else { throw MessageError(entry: entry.id, field: "f", problem: "missing") }
        var buffer = ByteBuffer(bytes: bytes)
        guard case .acl(let entries)? = try? Transmission.read(from: &buffer) else {
            throw MessageError(entry: entry.id, field: "f", problem: "not an ACL transmission")
        }
        switch entry.string("op") {
        case "replace":
            self.init(change: .replace(entries), replyStream: replyStream, correlation: correlation)
        case "put" where entries.count == 1:
            self.init(change: .put(entries[0]), replyStream: replyStream, correlation: correlation)
        case "remove" where entries.count == 1:
            self.init(change: .remove(entries[0].uid), replyStream: replyStream, correlation: correlation)
        default:
            throw MessageError(entry: entry.id, field: "op", problem: "not replace, put (one entry) or remove (one entry)")
        }
    }

    private static let placeholderGroup = try! GroupName("-")
    private static let placeholderKey = try! AuthKey(bytes: [UInt8](repeating: 0, count: 16))
}
