import NIOCore

/// Writes batches of commands and matches replies to them first-in-first-out.
///
/// Each ``RedisRequest`` registers one waiter expecting `replyCount` replies; replies are
/// decoded by hiredis and appended to the oldest waiter until it is complete, then its single
/// promise succeeds. Flushes requested within one event-loop tick are coalesced into one.
/// When the connection fails (closed, reset, protocol error, a reply past its deadline) every
/// waiter fails with the same ``RedisError`` and later writes fail at once: after a lost reply
/// the stream can no longer be matched to commands, so the connection is not reused.
final class RedisChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = RedisRequest
    typealias OutboundOut = ByteBuffer

    private struct Waiter {
        var promise: EventLoopPromise<[RedisValue]>
        var replyCount: Int
        var deadline: NIODeadline?
        var timeout: Duration?
        var label: String
    }

    private let address: String
    private let decoder = RedisReplyDecoder()
    private var waiters = CircularBuffer<Waiter>(initialCapacity: 16)
    /// Replies received so far for the oldest waiter.
    private var replies: [RedisValue] = []
    /// Set once the connection is unusable; every later request fails with it.
    private var failure: RedisError?
    private var flushScheduled = false
    private var deadlineTimer: Scheduled<Void>?
    private var isAdded = false

    init(address: String) {
        self.address = address
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.isAdded = true
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.isAdded = false
        self.fail(with: .connectionClosed(address: self.address))
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.fail(with: .connectionClosed(address: self.address))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.fail(with: .connectionClosed(address: self.address))
        context.close(promise: nil)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = self.unwrapOutboundIn(data)
        if let failure = self.failure {
            request.promise.fail(failure)
            promise?.fail(failure)
            return
        }
        self.waiters.append(
            Waiter(
                promise: request.promise,
                replyCount: request.replyCount,
                deadline: request.deadline,
                timeout: request.timeout,
                label: request.label
            )
        )
        if self.waiters.count == 1 {
            self.replies.reserveCapacity(request.replyCount)
        }
        context.write(self.wrapOutboundOut(request.buffer), promise: promise)
        self.armDeadlineTimer(context: context)
    }

    func flush(context: ChannelHandlerContext) {
        guard !self.flushScheduled else { return }
        self.flushScheduled = true
        // Later writes queued in this tick ride along with the same flush (one syscall).
        context.eventLoop.assumeIsolated().execute {
            self.flushScheduled = false
            if self.isAdded {
                context.flush()
            }
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = self.unwrapInboundIn(data)
        do {
            try self.decoder.feed(buffer)
            while let reply = try self.decoder.next() {
                guard self.deliver(reply) else {
                    self.fail(with: .protocolError(address: self.address, reason: "reply \(reply) arrived with no command waiting"))
                    context.close(promise: nil)
                    return
                }
            }
            self.armDeadlineTimer(context: context)
        } catch {
            self.fail(with: .protocolError(address: self.address, reason: error.reason))
            context.close(promise: nil)
        }
    }

    /// Hands one reply to the oldest waiter; `false` when nobody is waiting.
    private func deliver(_ reply: RedisValue) -> Bool {
        guard let head = self.waiters.first else { return false }
        self.replies.append(reply)
        if self.replies.count == head.replyCount {
            self.waiters.removeFirst()
            let complete = self.replies
            self.replies = []
            if let next = self.waiters.first {
                self.replies.reserveCapacity(next.replyCount)
            }
            head.promise.succeed(complete)
        }
        return true
    }

    private func fail(with error: RedisError) {
        if self.failure == nil {
            self.failure = error
        }
        self.deadlineTimer?.cancel()
        self.deadlineTimer = nil
        let failed = self.waiters
        self.waiters.removeAll()
        self.replies = []
        for waiter in failed {
            waiter.promise.fail(self.failure ?? error)
        }
    }

    /// Keeps one timer, due when the oldest waiter's deadline passes (only the oldest matters:
    /// nothing behind it can complete first).
    private func armDeadlineTimer(context: ChannelHandlerContext) {
        guard self.deadlineTimer == nil, let deadline = self.waiters.first?.deadline else { return }
        self.deadlineTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) {
            self.deadlineTimer = nil
            self.checkDeadline(context: context)
        }
    }

    private func checkDeadline(context: ChannelHandlerContext) {
        guard let head = self.waiters.first else { return }
        if let deadline = head.deadline, deadline <= .now() {
            self.fail(with: .timeout(address: self.address, command: head.label, timeout: head.timeout ?? .zero))
            context.close(promise: nil)
        } else {
            self.armDeadlineTimer(context: context)
        }
    }
}
