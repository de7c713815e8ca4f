import IoTSocket
import NIOCore

/// One transmission an element sent: decoded, and as it came off the wire (the router gets the
/// exact bytes, so nothing is lost or normalised between the element and the router).
struct InboundFrame {
    var transmission: Transmission
    /// The whole frame: header, UID when present, data.
    var wireBytes: ByteBuffer
}
