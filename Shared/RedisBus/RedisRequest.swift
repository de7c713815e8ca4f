import NIOCore

/// A batch of encoded commands on its way to ``RedisChannelHandler``, with the one promise
/// that receives all of its replies.
struct RedisRequest: Sendable {
    /// The RESP bytes of every command in the batch.
    var buffer: ByteBuffer
    /// How many replies complete the batch (one per command).
    var replyCount: Int
    /// Completed with the replies in command order, or failed with a ``RedisError``.
    var promise: EventLoopPromise<[RedisValue]>
    /// When to give up waiting; `nil` waits for as long as the connection lives.
    var deadline: NIODeadline?
    /// The timeout the deadline came from, reported in ``RedisError/timeout(address:command:timeout:)``.
    var timeout: Duration?
    /// The command name (or `PIPELINE(n)`), for errors.
    var label: String
}
