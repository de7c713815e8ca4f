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
        // Arrays and slices (nearly every caller) are read from their storage: this generic
        // initializer is called across modules unspecialized, where iterating through the
        // collection's witnesses cost microseconds per login (gateway profile).
        if let value = bytes.withContiguousStorageIfAvailable({ storage in
            Bytes16(high: Self.word(storage, from: 0), low: Self.word(storage, from: 8))
        }) {
            self = value
            return
        }
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

    /// Eight bytes from `start`, the first in the most significant position.
    private static func word(_ storage: UnsafeBufferPointer<UInt8>, from start: Int) -> UInt64 {
        var word: UInt64 = 0
        for index in start..<start + 8 {
            word = word << 8 | UInt64(storage[index])
        }
        return word
    }

    var bytes: [UInt8] {
        [UInt8](unsafeUninitializedCapacity: Self.byteCount) { storage, count in
            for index in 0..<8 {
                let shift = UInt64(56 - 8 * index)
                storage[index] = UInt8(truncatingIfNeeded: self.high >> shift)
                storage[8 + index] = UInt8(truncatingIfNeeded: self.low >> shift)
            }
            count = Self.byteCount
        }
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
