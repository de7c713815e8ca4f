import NIOCore

/// Splits a session's byte stream into ``Transmission`` values.
///
/// Handles transmissions split across any number of reads and several in one read. A
/// transmission announcing more than `maxTransmissionLength` bytes is refused with
/// ``IoTSocketError/transmissionTooLong(length:maximum:)`` as soon as its length fields arrive,
/// before its data is buffered. Any error leaves the stream unusable: the session sends
/// Close 0x00 and disconnects. Bytes of an incomplete transmission at EOF are left over
/// (`ByteToMessageHandler` reports them as `leftoverDataWhenDone`).
public struct TransmissionDecoder: NIOSingleStepByteToMessageDecoder, Sendable {
    public typealias InboundOut = Transmission

    /// The most bytes one transmission may take: header, UID and data.
    public let maxTransmissionLength: Int

    /// - Parameter maxTransmissionLength: at least 1; the largest possible transmission is
    ///   1 + 16 + 3 + 3 + 65,535 bytes for a Response (an ACL can be longer).
    public init(maxTransmissionLength: Int) {
        precondition(maxTransmissionLength > 0, "maxTransmissionLength must be positive")
        self.maxTransmissionLength = maxTransmissionLength
    }

    public mutating func decode(buffer: inout ByteBuffer) throws -> Transmission? {
        try Transmission.read(from: &buffer, maximumLength: self.maxTransmissionLength)
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> Transmission? {
        try self.decode(buffer: &buffer)
    }
}
