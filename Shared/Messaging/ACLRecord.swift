import IoTSocket

/// How one ACL entry is stored in the `acl` hash (field: UID hex): the group name's 16-byte
/// wire form followed by the 16-byte auth key. Fixed-size binary: nothing to escape or parse.
public enum ACLRecord {
    public static let byteCount = 32

    public static func encode(_ entry: ACLEntry) -> [UInt8] {
        entry.group.wireBytes + entry.key.bytes
    }

    /// The entry for `uid` stored as `bytes`, or nil when the bytes are not a valid record.
    public static func decode(uid: UID, bytes: [UInt8]) -> ACLEntry? {
        guard bytes.count == Self.byteCount,
            let group = try? GroupName(wireBytes: bytes[0..<16]),
            let key = try? AuthKey(bytes: bytes[16..<32])
        else { return nil }
        return ACLEntry(group: group, uid: uid, key: key)
    }
}
