import IoTSocket

/// The body of `POST /acl`: an array of `{"GroupName": str (≤16 bytes), "UID": str (≤16 bytes),
/// "AuthKey": 32 hex digits}` that replaces the whole ACL.
///
/// Validated whole before anything is sent to the router: one bad item refuses the list, so an
/// ACL is never half-applied. A UID listed twice keeps its last item (as the router does).
enum ACLDocument {
    /// - Throws: `APIError` 400 naming the item and member at fault (`[2].AuthKey`).
    static func entries(from body: JSONValue) throws(APIError) -> [ACLEntry] {
        guard case .array(let items) = body else {
            throw .badRequest("the body is \(body.kindDescription), expected an array of {GroupName, UID, AuthKey}", field: "body")
        }
        var entries: [ACLEntry] = []
        entries.reserveCapacity(items.count)
        for (index, item) in items.enumerated() {
            let prefix = "[\(index)]"
            guard case .object = item else {
                throw .wrongKind(prefix, found: item, expected: "an object with GroupName, UID and AuthKey")
            }
            let group = try Self.group(item["GroupName"], field: "\(prefix).GroupName")
            let uid = try CallRequest.uid(item["UID"], field: "\(prefix).UID")
            let key = try Self.key(item["AuthKey"], field: "\(prefix).AuthKey")
            entries.append(ACLEntry(group: group, uid: uid, key: key))
        }
        return entries
    }

    /// A group name from a body member.
    /// - Throws: `APIError` 400 naming `field` when absent, not a string, empty or too long.
    static func group(_ value: JSONValue?, field: String) throws(APIError) -> GroupName {
        guard let value else { throw .missing(field, expected: "a string of 1 to 16 UTF-8 bytes") }
        guard let text = value.stringValue else { throw .wrongKind(field, found: value, expected: "a string of 1 to 16 UTF-8 bytes") }
        do {
            return try GroupName(text)
        } catch {
            throw .badRequest(error.description, field: field)
        }
    }

    /// An auth key from a body member.
    /// - Throws: `APIError` 400 naming `field` unless it is a string of 32 hex digits.
    static func key(_ value: JSONValue?, field: String) throws(APIError) -> AuthKey {
        guard let value else { throw .missing(field, expected: "32 hex digits") }
        guard let text = value.stringValue else { throw .wrongKind(field, found: value, expected: "a string of 32 hex digits") }
        do {
            return try AuthKey(hex: text)
        } catch {
            throw .badRequest(error.description, field: field)
        }
    }
}
