import IoTSocket
import NIOCore

/// The inbound side of a ``TestElement``: collects bytes and hands complete values to one
/// waiting reader at a time. Everything runs on the channel's event loop.
final class TestElementHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    /// A reader waiting for enough bytes to decode a value.
    private struct PendingRead {
        var attempt: (inout ByteBuffer) -> Bool
        var fail: (TestElementError) -> Void
        var timeout: Scheduled<Void>?
    }

    private var buffer = ByteBuffer()
    private var closed = false
    private var pending: PendingRead?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = self.unwrapInboundIn(data)
        self.buffer.writeBuffer(&bytes)
        self.serve()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.closed = true
        self.serve()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Resets and TLS errors end the connection; readers learn it from the close.
        context.close(promise: nil)
    }

    /// Decodes one value with `decode` as soon as enough bytes are there.
    ///
    /// Fails with ``TestElementError/timeout(waitingFor:)`` after `timeout`, with
    /// ``TestElementError/closedByServer(leftoverBytes:)`` when the connection closes first, and
    /// with ``TestElementError/malformed(_:)`` when `decode` throws.
    func read<Value: Sendable>(
        _ what: String,
        timeout: TimeAmount,
        eventLoop: any EventLoop,
        decode: @escaping (inout ByteBuffer) throws(IoTSocketError) -> Value?
    ) -> EventLoopFuture<Value> {
        let promise = eventLoop.makePromise(of: Value.self)
        precondition(self.pending == nil, "one read at a time")
        var pending = PendingRead(
            attempt: { buffer in
                do throws(IoTSocketError) {
                    guard let value = try decode(&buffer) else { return false }
                    promise.succeed(value)
                } catch {
                    promise.fail(TestElementError.malformed(error))
                }
                return true
            },
            fail: { promise.fail($0) },
            timeout: nil
        )
        pending.timeout = eventLoop.assumeIsolated().scheduleTask(in: timeout) {
            guard self.pending != nil else { return }
            self.pending = nil
            promise.fail(TestElementError.timeout(waitingFor: what))
        }
        self.pending = pending
        self.serve()
        return promise.futureResult
    }

    private func serve() {
        guard let pending = self.pending else { return }
        if pending.attempt(&self.buffer) {
            pending.timeout?.cancel()
            self.pending = nil
        } else if self.closed {
            pending.timeout?.cancel()
            self.pending = nil
            pending.fail(.closedByServer(leftoverBytes: self.buffer.readableBytes))
        }
    }
}
