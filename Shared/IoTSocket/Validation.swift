import NIOCore

/// The concentrator's verdict on a challenge answer, 1 byte. On refusal both sides close at once.
public enum Validation: UInt8, Hashable, Sendable {
    case refused = 0x00
    case accepted = 0x01

    /// Reads 1 byte; nil when none is readable.
    /// - Throws: ``IoTSocketError/invalidValidationByte(_:)`` for any other byte (reader index unchanged).
    public static func read(from buffer: inout ByteBuffer) throws(IoTSocketError) -> Validation? {
        guard let byte = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return nil }
        guard let validation = Validation(rawValue: byte) else { throw .invalidValidationByte(byte) }
        buffer.moveReaderIndex(forwardBy: 1)
        return validation
    }

    public func write(to buffer: inout ByteBuffer) {
        buffer.writeInteger(self.rawValue)
    }
}
