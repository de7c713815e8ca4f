import NIOCore

/// Sixteen bytes held inline as two big-endian words.
///
/// UIDs, group names, auth keys and challenges are all 16 bytes; keeping them in two integers
/// makes them free to copy and cheap to hash, with no heap allocation per value.
struct Bytes16: Hashable, Sendable {
    static let byteCount = 16
    static let zero = Bytes16(high: 0, low: 0)

    /// Bytes 0–7, byte 0 in the most significant position.
    var high: UInt64
    /// Bytes 8–15.
    var low: UInt64

    init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Returns nil unless `bytes` holds exactly 16 bytes.
    init?(_ bytes: some Collection<UInt8>) {
        guard bytes.count == Self.byteCount else { return nil }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for (index, byte) in bytes.enumerated() {
            if index < 8 {
                high = high << 8 | UInt64(byte)
            } else {
                low = low << 8 | UInt64(byte)
            }
        }
        self.init(high: high, low: low)
    }

    var bytes: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Self.byteCount)
        for word in [self.high, self.low] {
            for shift in stride(from: 56, through: 0, by: -8) {
                bytes.append(UInt8(truncatingIfNeeded: word >> UInt64(shift)))
            }
        }
        return bytes
    }
}

extension ByteBuffer {
    /// Reads 16 bytes, or returns nil (reading nothing) when fewer are readable.
    mutating func readBytes16() -> Bytes16? {
        guard let (high, low) = self.readMultipleIntegers(as: (UInt64, UInt64).self) else { return nil }
        return Bytes16(high: high, low: low)
    }

    mutating func writeBytes16(_ value: Bytes16) {
        self.writeMultipleIntegers(value.high, value.low)
    }
}
