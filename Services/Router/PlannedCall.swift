import RedisBus

/// One Redis command the router decided on while handling a batch, with what to do with its
/// reply (more commands: answers, events, token deliveries).
///
/// Planning first and sending afterwards lets the router send a whole batch of decisions in
/// one pipelined write, in order, instead of one round trip per message.
struct PlannedCall: Sendable {
    var command: [RedisArgument]
    var onReply: @Sendable (RedisValue) -> [PlannedCall]

    init(_ command: [RedisArgument], onReply: @escaping @Sendable (RedisValue) -> [PlannedCall] = { _ in [] }) {
        self.command = command
        self.onReply = onReply
    }

    /// `EVALSHA` of one of the router's scripts.
    static func script(
        _ script: RedisScript, keys: [String], arguments: [RedisArgument],
        onReply: @escaping @Sendable (RedisValue) -> [PlannedCall] = { _ in [] }
    ) -> PlannedCall {
        var command: [RedisArgument] = ["EVALSHA", .string(script.sha1), .integer(keys.count)]
        command.reserveCapacity(3 + keys.count + arguments.count)
        command += keys.map { .string($0) }
        command += arguments
        return PlannedCall(command, onReply: onReply)
    }
}
