import NIOCore

extension Channel {
    /// Whether this is an HTTP/2 stream: its parent is the connection, whose parent is the
    /// listening socket (an HTTP/1.1 connection's parent is the listening socket, which has none).
    var isHTTP2Stream: Bool { self.parent?.parent != nil }
}
