import CHiredis
import NIOCore

/// Turns bytes from the socket into ``RedisValue``s with a hiredis `redisReader`.
///
/// Bytes are fed as they arrive; each complete reply tree is copied into Swift values and the
/// hiredis objects are freed at once, so nothing hiredis allocated outlives a call.
/// Not thread-safe: owned by one ``RedisChannelHandler`` and used only on its event loop.
final class RedisReplyDecoder {
    /// Why the reader rejected the stream.
    struct Failure: Error {
        var reason: String
    }

    private let reader: UnsafeMutablePointer<redisReader>

    init() {
        // hiredis returns NULL only when malloc fails, which Swift itself cannot survive.
        guard let reader = redisReaderCreate() else { fatalError("redisReaderCreate could not allocate") }
        self.reader = reader
    }

    deinit {
        redisReaderFree(self.reader)
    }

    /// Appends the readable bytes of `buffer` to the reader's input.
    func feed(_ buffer: ByteBuffer) throws(Failure) {
        let status = buffer.withUnsafeReadableBytes { bytes -> Int32 in
            guard let base = bytes.baseAddress, bytes.count > 0 else { return REDIS_OK }
            return redisReaderFeed(self.reader, base.assumingMemoryBound(to: CChar.self), bytes.count)
        }
        if status != REDIS_OK { throw self.failure() }
    }

    /// The next complete reply, or `nil` when more bytes are needed.
    func next() throws(Failure) -> RedisValue? {
        var reply: UnsafeMutableRawPointer?
        guard redisReaderGetReply(self.reader, &reply) == REDIS_OK else { throw self.failure() }
        guard let reply else { return nil }
        defer { freeReplyObject(reply) }
        return Self.value(of: reply.assumingMemoryBound(to: redisReply.self))
    }

    private func failure() -> Failure {
        let reason = withUnsafeBytes(of: &self.reader.pointee.errstr) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        return Failure(reason: reason.isEmpty ? "hiredis reader error \(self.reader.pointee.err)" : reason)
    }

    private static func value(of reply: UnsafePointer<redisReply>) -> RedisValue {
        let node = reply.pointee
        switch node.type {
        case REDIS_REPLY_STRING:
            return .bulkString(Array(UnsafeRawBufferPointer(start: node.str, count: node.len)))
        case REDIS_REPLY_STATUS:
            return .simpleString(String(decoding: UnsafeRawBufferPointer(start: node.str, count: node.len), as: UTF8.self))
        case REDIS_REPLY_ERROR:
            return .error(String(decoding: UnsafeRawBufferPointer(start: node.str, count: node.len), as: UTF8.self))
        case REDIS_REPLY_INTEGER:
            return .integer(Int(node.integer))
        case REDIS_REPLY_ARRAY:
            var elements: [RedisValue] = []
            elements.reserveCapacity(node.elements)
            for index in 0..<node.elements {
                if let element = node.element[index] {
                    elements.append(Self.value(of: element))
                } else {
                    elements.append(.null)
                }
            }
            return .array(elements)
        default:
            return .null
        }
    }
}
