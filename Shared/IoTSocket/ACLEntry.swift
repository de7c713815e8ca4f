import NIOCore

/// One authorised object of an ACL: group name (16) + UID (16) + auth key (16) on the wire.
public struct ACLEntry: Hashable, Sendable {
    /// The wire length of one entry.
    public static let wireLength = 48

    public var group: GroupName
    public var uid: UID
    public var key: AuthKey

    public init(group: GroupName, uid: UID, key: AuthKey) {
        self.group = group
        self.uid = uid
        self.key = key
    }

    /// An entry from its textual form (the HTTP API's and ACL file's fields).
    /// - Throws: ``IoTSocketError`` naming the field that was wrong.
    public init(group: String, uid: String, keyHex: String) throws(IoTSocketError) {
        self.init(group: try GroupName(group), uid: try UID(uid), key: try AuthKey(hex: keyHex))
    }

    /// Reads one entry; nil (nothing read) when fewer than 48 bytes are readable.
    /// - Throws: a name error, including ``IoTSocketError/nameEmpty(_:)`` for the empty UID
    ///   (the central's: no object has it); the reader index is then unchanged.
    public static func read(from buffer: inout ByteBuffer) throws(IoTSocketError) -> ACLEntry? {
        guard buffer.readableBytes >= Self.wireLength else { return nil }
        var copy = buffer
        // Availability checked above, so none of these reads can come back empty.
        let entry = ACLEntry(
            group: try GroupName.read(from: &copy)!,
            uid: try UID.read(from: &copy)!,
            key: AuthKey.read(from: &copy)!
        )
        if entry.uid.isCentral { throw .nameEmpty(.uid) }
        buffer = copy
        return entry
    }

    public func write(to buffer: inout ByteBuffer) {
        self.group.write(to: &buffer)
        self.uid.write(to: &buffer)
        self.key.write(to: &buffer)
    }
}
