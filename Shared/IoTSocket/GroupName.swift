import NIOCore

/// The name of a group of objects: 16 bytes on the wire, a non-empty UTF-8 string of at most
/// 16 bytes left-padded with 0x00.
public struct GroupName: Hashable, Sendable, CustomStringConvertible {
    /// The wire length of a group name.
    public static let wireLength = 16

    /// The name as text, without padding; never empty.
    public let string: String
    let raw: Bytes16

    /// - Throws: ``IoTSocketError`` when `string` is empty, longer than 16 UTF-8 bytes (it is
    ///   never truncated), or contains U+0000.
    public init(_ string: String) throws(IoTSocketError) {
        self.raw = try PaddedName.encode(string, kind: .groupName, allowEmpty: false)
        self.string = string
    }

    /// A group name from its 16-byte wire form.
    /// - Throws: ``IoTSocketError/wrongByteCount(field:expected:actual:)`` unless 16 bytes,
    ///   ``IoTSocketError/nameEmpty(_:)`` for 16 × 0x00, or an invalid-text error.
    public init(wireBytes: some Collection<UInt8>) throws(IoTSocketError) {
        guard let raw = Bytes16(wireBytes) else {
            throw .wrongByteCount(field: "group name", expected: Self.wireLength, actual: wireBytes.count)
        }
        try self.init(raw: raw)
    }

    init(raw: Bytes16) throws(IoTSocketError) {
        self.string = try PaddedName.decode(raw, kind: .groupName, allowEmpty: false)
        self.raw = raw
    }

    /// The 16-byte padded wire form.
    public var wireBytes: [UInt8] { self.raw.bytes }

    public var description: String { self.string }

    public static func == (lhs: GroupName, rhs: GroupName) -> Bool { lhs.raw == rhs.raw }
    public func hash(into hasher: inout Hasher) { hasher.combine(self.raw) }

    /// Reads 16 bytes; nil (nothing read) when fewer are readable.
    /// - Throws: as ``GroupName/init(wireBytes:)``; the reader index is then left unchanged.
    public static func read(from buffer: inout ByteBuffer) throws(IoTSocketError) -> GroupName? {
        var copy = buffer
        guard let raw = copy.readBytes16() else { return nil }
        let name = try GroupName(raw: raw)
        buffer = copy
        return name
    }

    /// Appends the 16-byte wire form.
    public func write(to buffer: inout ByteBuffer) {
        buffer.writeBytes16(self.raw)
    }
}
