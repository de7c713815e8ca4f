import NIOCore

/// The identity of an element: 16 bytes on the wire, a UTF-8 string of at most 16 bytes
/// left-padded with 0x00.
///
/// The empty UID (16 × 0x00) is the central's, available as ``UID/central``; every object has a
/// non-empty UID. Two UIDs are equal when their wire forms are equal.
public struct UID: Hashable, Sendable, CustomStringConvertible {
    /// The wire length of a UID.
    public static let wireLength = 16

    /// The central's UID: 16 × 0x00.
    public static let central = UID(string: "", raw: .zero)

    /// The UID as text, without padding; empty only for ``UID/central``.
    public let string: String
    let raw: Bytes16

    private init(string: String, raw: Bytes16) {
        self.string = string
        self.raw = raw
    }

    /// An object's UID.
    /// - Throws: ``IoTSocketError`` when `string` is empty (use ``UID/central`` for the central),
    ///   longer than 16 UTF-8 bytes (it is never truncated), or contains U+0000.
    public init(_ string: String) throws(IoTSocketError) {
        self.init(string: string, raw: try PaddedName.encode(string, kind: .uid, allowEmpty: false))
    }

    /// A UID from its 16-byte wire form; 16 × 0x00 gives ``UID/central``.
    /// - Throws: ``IoTSocketError/wrongByteCount(field:expected:actual:)`` unless 16 bytes,
    ///   ``IoTSocketError/nameNotUTF8(_:wireBytes:)`` or ``IoTSocketError/nameContainsNull(_:)``.
    public init(wireBytes: some Collection<UInt8>) throws(IoTSocketError) {
        guard let raw = Bytes16(wireBytes) else {
            throw .wrongByteCount(field: "UID", expected: Self.wireLength, actual: wireBytes.count)
        }
        try self.init(raw: raw)
    }

    init(raw: Bytes16) throws(IoTSocketError) {
        self.init(string: try PaddedName.decode(raw, kind: .uid, allowEmpty: true), raw: raw)
    }

    /// The 16-byte padded wire form.
    public var wireBytes: [UInt8] { self.raw.bytes }

    /// True for the central's empty UID.
    public var isCentral: Bool { self.raw == .zero }

    /// The string; the central's empty UID prints as `(central)` so that logs never show a blank.
    public var description: String { self.isCentral ? "(central)" : self.string }

    public static func == (lhs: UID, rhs: UID) -> Bool { lhs.raw == rhs.raw }
    public func hash(into hasher: inout Hasher) { hasher.combine(self.raw) }

    /// Reads 16 bytes; nil (nothing read) when fewer are readable.
    /// - Throws: as ``UID/init(wireBytes:)``; the reader index is then left unchanged.
    public static func read(from buffer: inout ByteBuffer) throws(IoTSocketError) -> UID? {
        var copy = buffer
        guard let raw = copy.readBytes16() else { return nil }
        let uid = try UID(raw: raw)
        buffer = copy
        return uid
    }

    /// Appends the 16-byte wire form.
    public func write(to buffer: inout ByteBuffer) {
        buffer.writeBytes16(self.raw)
    }
}
