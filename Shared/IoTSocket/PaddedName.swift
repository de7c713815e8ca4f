/// The 16-byte name form shared by UIDs and group names: UTF-8, left-padded with 0x00.
///
/// Leading 0x00 bytes are padding, so a name may not itself contain U+0000: otherwise two
/// different strings would share one wire form and `Hashable` would disagree with `==` on strings.
enum PaddedName {
    /// The padded wire form of `string`.
    /// - Throws: ``IoTSocketError/nameTooLong(_:byteCount:)`` above 16 UTF-8 bytes (never truncated),
    ///   ``IoTSocketError/nameEmpty(_:)`` when empty and `allowEmpty` is false,
    ///   ``IoTSocketError/nameContainsNull(_:)``.
    static func encode(
        _ string: String,
        kind: IoTSocketError.NameKind,
        allowEmpty: Bool
    ) throws(IoTSocketError) -> Bytes16 {
        let utf8 = string.utf8
        let count = utf8.count
        guard count <= Bytes16.byteCount else { throw .nameTooLong(kind, byteCount: count) }
        guard count > 0 || allowEmpty else { throw .nameEmpty(kind) }
        guard !utf8.contains(0) else { throw .nameContainsNull(kind) }
        var padded = [UInt8](repeating: 0, count: Bytes16.byteCount - count)
        padded.append(contentsOf: utf8)
        // Exactly 16 bytes by construction.
        return Bytes16(padded)!
    }

    /// The string of a padded wire form, leading 0x00 ignored.
    /// - Throws: ``IoTSocketError/nameNotUTF8(_:wireBytes:)``,
    ///   ``IoTSocketError/nameContainsNull(_:)`` for a 0x00 after the first text byte,
    ///   ``IoTSocketError/nameEmpty(_:)`` for 16 × 0x00 when `allowEmpty` is false.
    static func decode(
        _ raw: Bytes16,
        kind: IoTSocketError.NameKind,
        allowEmpty: Bool
    ) throws(IoTSocketError) -> String {
        if raw == .zero {
            guard allowEmpty else { throw .nameEmpty(kind) }
            return ""
        }
        let wireBytes = raw.bytes
        let text = wireBytes.drop(while: { $0 == 0 })
        guard !text.contains(0) else { throw .nameContainsNull(kind) }
        guard UTF8Validation.firstInvalidOffset(in: text) == nil else {
            throw .nameNotUTF8(kind, wireBytes: wireBytes)
        }
        return String(decoding: text, as: UTF8.self)
    }
}
