import NIOCore

/// Writes ``Transmission`` values to a session's byte stream.
///
/// Does not enforce the peer's stated maximum transmission length: compare
/// ``Transmission/wireLength`` with it before writing if the peer stated one.
public struct TransmissionEncoder: MessageToByteEncoder, Sendable {
    public typealias OutboundIn = Transmission

    public init() {}

    public func encode(data: Transmission, out: inout ByteBuffer) throws {
        data.write(to: &out)
    }
}
