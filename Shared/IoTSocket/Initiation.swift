import NIOCore

/// The first 4 bytes a client sends: `TLS (1 bit) | version (7 bits)`, options, and the
/// maximum transmission length it can process.
///
/// Decoding accepts any version: refusing an unknown one (with an ``InitiationResponse``) is the
/// concentrator's decision, not a wire error.
public struct Initiation: Hashable, Sendable {
    /// The protocol version this library speaks (v1.01 sends 0x01).
    public static let currentVersion: UInt8 = 0x01
    public static let wireLength = 4

    /// The client asks to start TLS right after the initiation response.
    public let tls: Bool
    /// 7 bits.
    public let version: UInt8
    /// Free for the client; no meaning defined.
    public let options: UInt8
    /// The longest transmission the client can process; 0 means not stated.
    public let maxTransmissionLength: UInt16

    /// - Precondition: `version` fits in 7 bits (below 128).
    public init(
        tls: Bool,
        version: UInt8 = Initiation.currentVersion,
        options: UInt8 = 0,
        maxTransmissionLength: UInt16 = 0
    ) {
        precondition(version < 0x80, "the initiation version has 7 bits")
        self.tls = tls
        self.version = version
        self.options = options
        self.maxTransmissionLength = maxTransmissionLength
    }

    /// The client's stated maximum transmission length, or nil when it stated none (0).
    public var statedMaxTransmissionLength: Int? {
        self.maxTransmissionLength == 0 ? nil : Int(self.maxTransmissionLength)
    }

    /// Reads 4 bytes; nil (nothing read) when fewer are readable. Every 4 bytes are an initiation.
    public static func read(from buffer: inout ByteBuffer) -> Initiation? {
        guard let (first, options, maxLength) = buffer.readMultipleIntegers(as: (UInt8, UInt8, UInt16).self) else {
            return nil
        }
        return Initiation(tls: first & 0x80 != 0, version: first & 0x7F, options: options, maxTransmissionLength: maxLength)
    }

    public func write(to buffer: inout ByteBuffer) {
        buffer.writeMultipleIntegers(
            (self.tls ? 0x80 : 0) | self.version,
            self.options,
            self.maxTransmissionLength
        )
    }
}
