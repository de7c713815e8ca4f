import IoTSocket
import NIOCore

/// A small deterministic generator (SplitMix64) so that failures are reproducible.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    public var state: UInt64

    public init(seed: UInt64) {
        self.state = seed
    }

    public mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var value = self.state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}

/// Random but valid IoTSocket values, and random damage to their wire form, for the tests that
/// throw many shapes at a decoder or a gateway.
public enum GeneratedTransmissions {
    /// A name of 1-6 characters (some of them multi-byte) that fits 16 UTF-8 bytes.
    public static func name(_ generator: inout SeededGenerator) -> String {
        let alphabet = Array("abcXYZ019-_.éü😀")
        var name = ""
        let length = Int.random(in: 1...6, using: &generator)
        for _ in 0..<length {
            let candidate = name + String(alphabet.randomElement(using: &generator)!)
            if candidate.utf8.count <= 16 { name = candidate }
        }
        return name.isEmpty ? "n" : name
    }

    /// A block of any format with 0-40 random bytes and random options.
    public static func payload(_ generator: inout SeededGenerator) throws -> PayloadBlock {
        let format = PayloadFormat.allCases.randomElement(using: &generator)!
        let length = Int.random(in: 0...40, using: &generator)
        let data = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return try PayloadBlock(format: format, options: UInt8.random(in: 0...15, using: &generator), data: data)
    }

    /// Any transmission type, with a UID half of the time where the type allows one.
    public static func transmission(_ generator: inout SeededGenerator) throws -> Transmission {
        let uid = Bool.random(using: &generator) ? try UID(self.name(&generator)) : nil
        switch Int.random(in: 0..<8, using: &generator) {
        case 0:
            let count = Int.random(in: 0...3, using: &generator)
            return .acl(try (0..<count).map { _ in
                ACLEntry(
                    group: try GroupName(self.name(&generator)),
                    uid: try UID(self.name(&generator)),
                    key: try AuthKey(bytes: (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) })
                )
            })
        case 1: return .ping
        case 2: return .pong
        case 3: return .request(uid: uid, tracking: .random(in: 0...UInt16.max, using: &generator), payload: try self.payload(&generator))
        case 4:
            return .response(
                uid: uid,
                tracking: .random(in: 0...UInt16.max, using: &generator),
                code: ResponseCode(.random(in: 0...255, using: &generator)),
                payload: try self.payload(&generator)
            )
        case 5: return .telemetryToken(TelemetryToken(rawValue: generator.next()))
        case 6: return .identifiedTelemetry(uid: try UID(self.name(&generator)), payload: try self.payload(&generator))
        default: return .close(CloseCode(.random(in: 0...255, using: &generator)))
        }
    }

    /// The wire form of a random transmission, damaged (``damage(_:_:)``): what a noisy link or a
    /// buggy device sends.
    public static func damagedFrame(_ generator: inout SeededGenerator) throws -> [UInt8] {
        var bytes = try self.transmission(&generator).wireBytes
        self.damage(&bytes, &generator)
        return bytes
    }

    /// One to three random changes, each a byte replaced or one bit flipped, bytes cut off the
    /// end, random bytes appended or inserted.
    public static func damage(_ bytes: inout [UInt8], _ generator: inout SeededGenerator) {
        for _ in 0..<Int.random(in: 1...3, using: &generator) {
            let index = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &generator)
            switch Int.random(in: 0..<5, using: &generator) {
            case 0 where !bytes.isEmpty: bytes[index] = .random(in: 0...255, using: &generator)
            case 1 where !bytes.isEmpty: bytes[index] ^= 1 << UInt8.random(in: 0...7, using: &generator)
            case 2: bytes.removeLast(Int.random(in: 0...bytes.count, using: &generator))
            case 3: bytes += (0..<Int.random(in: 1...8, using: &generator)).map { _ in .random(in: 0...255, using: &generator) }
            default: bytes.insert(.random(in: 0...255, using: &generator), at: index)
            }
        }
    }
}

extension Transmission {
    /// The wire form as an array.
    public var wireBytes: [UInt8] {
        var buffer = ByteBuffer()
        self.write(to: &buffer)
        return Array(buffer.readableBytesView)
    }
}
