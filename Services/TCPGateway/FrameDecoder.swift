import IoTSocket
import NIOCore

/// Splits a session's byte stream into ``InboundFrame`` values (the decoded transmission and
/// its exact wire bytes); ``SessionHandler`` calls it on what it reads.
///
/// Like `TransmissionDecoder`, a transmission announcing more than `maxTransmissionLength`
/// bytes fails with ``IoTSocketError/transmissionTooLong(length:maximum:)`` as soon as its
/// length fields are readable, before its data is waited for or buffered. Any error leaves the
/// stream unusable: the session answers Close 0x00 and disconnects.
struct FrameDecoder {
    /// The most bytes one transmission may take: header, UID and data.
    let maxTransmissionLength: Int

    init(maxTransmissionLength: Int) {
        self.maxTransmissionLength = maxTransmissionLength
    }

    /// The next whole frame at the start of `buffer` (consumed), or nil until one is complete.
    func decode(buffer: inout ByteBuffer) throws(IoTSocketError) -> InboundFrame? {
        guard let length = try Transmission.frameLength(peekingAt: buffer) else { return nil }
        guard length <= self.maxTransmissionLength else {
            throw IoTSocketError.transmissionTooLong(length: length, maximum: self.maxTransmissionLength)
        }
        guard let frame = buffer.getSlice(at: buffer.readerIndex, length: length) else { return nil }
        var parsing = frame
        // The whole frame is readable, so `read` finds it complete: nil cannot happen here.
        guard let transmission = try Transmission.read(from: &parsing, maximumLength: length) else { return nil }
        buffer.moveReaderIndex(forwardBy: length)
        return InboundFrame(transmission: transmission, wireBytes: frame)
    }
}
