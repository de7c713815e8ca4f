import NIOCore

/// The 8-byte token an object puts in front of each UDP telemetry datagram.
///
/// Held as one integer (byte 0 most significant) because the UDP service looks one up for every
/// datagram. Tokens must be unpredictable: create them with ``TelemetryToken/random()``.
public struct TelemetryToken: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The length of a token in bytes.
    public static let byteCount = 8

    /// The 8 bytes as a big-endian integer.
    public let rawValue: UInt64

    public init(rawValue: UInt64) {
        self.rawValue = rawValue
    }

    /// - Throws: ``IoTSocketError/wrongByteCount(field:expected:actual:)`` unless 8 bytes.
    public init(bytes: some Collection<UInt8>) throws(IoTSocketError) {
        guard bytes.count == Self.byteCount else {
            throw .wrongByteCount(field: "telemetry token", expected: Self.byteCount, actual: bytes.count)
        }
        self.rawValue = bytes.reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// A token from 16 hex digits, upper or lower case.
    /// - Throws: ``IoTSocketError/hexWrongLength(field:digits:expected:)`` or
    ///   ``IoTSocketError/hexInvalidDigit(field:character:position:)``.
    public init(hex: String) throws(IoTSocketError) {
        try self.init(bytes: try Hex.decode(hex, byteCount: Self.byteCount, field: "telemetry token"))
    }

    /// A fresh token from the system CSPRNG (getrandom on Linux, arc4random on Darwin).
    ///
    /// Uniqueness among live tokens is the caller's business (64 random bits make a clash
    /// unlikely, not impossible).
    public static func random() -> TelemetryToken {
        var generator = SystemRandomNumberGenerator()
        return TelemetryToken(rawValue: generator.next())
    }

    public var bytes: [UInt8] {
        (0..<Self.byteCount).map { UInt8(truncatingIfNeeded: self.rawValue >> UInt64(56 - 8 * $0)) }
    }

    /// 16 lowercase hex digits.
    public var hex: String { Hex.encode(self.bytes) }

    public var description: String { self.hex }

    /// Reads 8 bytes; nil (nothing read) when fewer are readable.
    public static func read(from buffer: inout ByteBuffer) -> TelemetryToken? {
        buffer.readInteger(as: UInt64.self).map(TelemetryToken.init(rawValue:))
    }

    public func write(to buffer: inout ByteBuffer) {
        buffer.writeInteger(self.rawValue)
    }
}
