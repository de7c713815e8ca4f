import IoTSocket
import NIOCore

extension PayloadBlock {
    /// The block's wire form (format/options byte, 16-bit length, data) as stored in stream fields.
    public static func wireBytes(_ block: PayloadBlock) -> [UInt8] {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(block.wireLength)
        block.write(to: &buffer)
        return Array(buffer.readableBytesView)
    }

    /// A block from exactly its wire form; nil when the bytes are not one whole block.
    public static func fromWireBytes(_ bytes: [UInt8]) -> PayloadBlock? {
        var buffer = ByteBuffer(bytes: bytes)
        guard let block = try? PayloadBlock.read(from: &buffer), buffer.readableBytes == 0 else { return nil }
        return block
    }
}
