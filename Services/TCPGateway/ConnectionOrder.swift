import IoTSocket

/// What the gateway asks of one connection, delivered as a user inbound event on the
/// connection's own event loop so that the handler owning the connection's state acts on it.
enum ConnectionOrder: Sendable {
    /// Write these transmission bytes (a frame the router addressed to the element). Not
    /// flushed: whoever gives the order flushes the channel (``ConnectionRegistry/deliver(_:)``
    /// does once per batch).
    case write([UInt8])
    /// Send Close with this code, then disconnect.
    case close(CloseCode)
    /// The gateway is stopping: sessions send Close 0xA1 (session kept), handshakes just end.
    case drain
    /// The deadline the connection set with ``ConnectionRegistry/Shard/setDeadline(_:for:)``
    /// has passed.
    case deadlineReached
}
