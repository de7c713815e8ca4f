/// Stream commands: append, consumer groups, reads, acknowledgements, reclaim, metrics.
///
/// Blocking reads (`block:` not `nil`) must run on a dedicated connection
/// (``RedisClient/makeBlockingConnection()``), never on the shared ``RedisClient``.
extension RedisCommandExecutor {
    /// Extra time allowed for a blocking read's reply beyond its block time.
    static var blockingReplyMargin: Duration { .seconds(5) }

    /// Appends one entry (`XADD`) and returns its ID.
    ///
    /// - Parameters:
    ///   - stream: The stream key.
    ///   - id: The entry ID, `*` (Redis assigns it) by default.
    ///   - fields: Field/value pairs, stored in this order.
    ///   - maxLength: Trim to about this many entries (`MAXLEN ~ n`); `nil` never trims.
    ///   - approximateTrim: `~` (default, cheap) rather than an exact trim.
    @discardableResult
    public func xadd(
        _ stream: String,
        id: String = "*",
        fields: [(name: String, value: RedisArgument)],
        maxLength: Int? = nil,
        approximateTrim: Bool = true
    ) async throws -> String {
        let append = StreamAppend(stream: stream, id: id, fields: fields, maxLength: maxLength, approximateTrim: approximateTrim)
        let reply = try await self.send(append.command)
        guard let entryID = reply.string else { throw RedisError.unexpectedReply(command: "XADD", reply: reply.description) }
        return entryID
    }

    /// Appends many entries in one pipelined batch (one write, one promise) and returns, in
    /// order, each new ID or the error Redis gave for that entry.
    ///
    /// - Throws: only connection-level ``RedisError``s; per-entry errors are in the results.
    public func xadd(_ appends: [StreamAppend]) async throws -> [Result<String, RedisError>] {
        let replies = try await self.pipeline(appends.map(\.command))
        return replies.map(StreamAppend.result(of:))
    }

    /// Creates a consumer group (`XGROUP CREATE`), ignoring `BUSYGROUP`.
    ///
    /// - Parameters:
    ///   - stream: The stream key.
    ///   - group: The group name.
    ///   - startID: The last ID considered delivered: `0` delivers everything the stream holds,
    ///     `$` only what arrives from now on.
    ///   - makeStream: Create the stream if it does not exist (`MKSTREAM`).
    /// - Returns: `true` if the group was created, `false` if it already existed.
    @discardableResult
    public func createGroup(_ stream: String, group: String, startID: String = "$", makeStream: Bool = true) async throws -> Bool {
        var command: [RedisArgument] = ["XGROUP", "CREATE", .string(stream), .string(group), .string(startID)]
        if makeStream { command.append("MKSTREAM") }
        do {
            try await self.send(command)
            return true
        } catch let error as RedisError where error.isBusyGroup {
            return false
        }
    }

    /// Deletes a consumer group (`XGROUP DESTROY`); returns whether it existed.
    @discardableResult
    public func destroyGroup(_ stream: String, group: String) async throws -> Bool {
        try await self.send(["XGROUP", "DESTROY", .string(stream), .string(group)]).int == 1
    }

    /// Reads entries for a consumer of a group (`XREADGROUP`).
    ///
    /// - Parameters:
    ///   - group: The group name.
    ///   - consumer: This consumer's name (stable per instance).
    ///   - streams: Each stream with the ID to read after: `>` for new entries, `0` for this
    ///     consumer's own pending entries.
    ///   - count: The most entries per stream.
    ///   - block: Wait up to this long (at least 1 ms) when nothing is there; `nil` returns at
    ///     once. Blocking requires a dedicated connection.
    ///   - noAck: Do not add the entries to the pending list (`NOACK`).
    /// - Returns: The entries per stream; empty when the block time ran out.
    /// - Throws: ``RedisError`` with ``RedisError/isNoGroup`` when the group or stream is gone.
    public func xreadgroup(
        group: String,
        consumer: String,
        streams: [(stream: String, id: String)],
        count: Int? = nil,
        block: Duration? = nil,
        noAck: Bool = false
    ) async throws -> [StreamBatch] {
        var command: [RedisArgument] = ["XREADGROUP", "GROUP", .string(group), .string(consumer)]
        command.reserveCapacity(10 + 2 * streams.count)
        if let count { command += ["COUNT", .integer(count)] }
        if let block { command += ["BLOCK", .integer(Self.milliseconds(block))] }
        if noAck { command.append("NOACK") }
        command.append("STREAMS")
        command += streams.map { .string($0.stream) }
        command += streams.map { .string($0.id) }
        let reply = try await self.send(command, timeout: block.map { $0 + Self.blockingReplyMargin })
        return try StreamBatch.list(from: reply, command: "XREADGROUP")
    }

    /// Reads new entries (`>`) of one stream for a consumer of a group; see
    /// ``xreadgroup(group:consumer:streams:count:block:noAck:)``.
    public func xreadgroup(
        group: String,
        consumer: String,
        stream: String,
        id: String = ">",
        count: Int? = nil,
        block: Duration? = nil
    ) async throws -> [StreamEntry] {
        let batches = try await self.xreadgroup(group: group, consumer: consumer, streams: [(stream, id)], count: count, block: block)
        return batches.first { $0.stream == stream }?.entries ?? []
    }

    /// Acknowledges entries (`XACK`); returns how many were pending and are now done.
    @discardableResult
    public func xack(_ stream: String, group: String, ids: [String]) async throws -> Int {
        guard !ids.isEmpty else { return 0 }
        let reply = try await self.send(["XACK", .string(stream), .string(group)] + ids.map { .string($0) })
        guard let acknowledged = reply.int else { throw RedisError.unexpectedReply(command: "XACK", reply: reply.description) }
        return acknowledged
    }

    /// Acknowledges `ids` (`XACK`) and reads new entries (`XREADGROUP … >`) in one round trip: a
    /// consumer acknowledging the batch it just finished does not wait for that reply before it
    /// asks for the next one.
    ///
    /// - Returns: the entries read (none when `block` passed without any).
    /// - Throws: when either command fails; the acknowledgement may then have happened or not
    ///   (`XACK` is idempotent: send it again).
    public func xackThenReadGroup(
        _ stream: String,
        group: String,
        consumer: String,
        acknowledging ids: [String],
        count: Int,
        block: Duration
    ) async throws -> [StreamEntry] {
        guard !ids.isEmpty else {
            return try await self.xreadgroup(group: group, consumer: consumer, stream: stream, count: count, block: block)
        }
        let commands = Self.xackThenReadGroupCommands(stream, group: group, consumer: consumer, acknowledging: ids, count: count, block: block)
        return try Self.entries(of: stream, fromXackThenReadGroup: try await self.pipeline(commands), commands: commands)
    }

    /// The commands of ``xackThenReadGroup(_:group:consumer:acknowledging:count:block:)``: an
    /// `XACK` (when there are IDs) followed by the `XREADGROUP`.
    static func xackThenReadGroupCommands(
        _ stream: String, group: String, consumer: String, acknowledging ids: [String], count: Int, block: Duration
    ) -> [[RedisArgument]] {
        let read: [RedisArgument] = [
            "XREADGROUP", "GROUP", .string(group), .string(consumer), "COUNT", .integer(count),
            "BLOCK", .integer(Self.milliseconds(block)), "STREAMS", .string(stream), ">",
        ]
        guard !ids.isEmpty else { return [read] }
        return [["XACK", .string(stream), .string(group)] + ids.map { .string($0) }, read]
    }

    /// The entries read, from the replies to ``xackThenReadGroupCommands(_:group:consumer:acknowledging:count:block:)``.
    static func entries(of stream: String, fromXackThenReadGroup replies: [RedisValue], commands: [[RedisArgument]]) throws -> [StreamEntry] {
        guard replies.count == commands.count, let readReply = replies.last else {
            throw RedisError.unexpectedReply(command: "XACK+XREADGROUP", reply: "\(replies.count) replies")
        }
        for (reply, command) in zip(replies, commands) {
            _ = try reply.throwingServerError(command: command)
        }
        let batches = try StreamBatch.list(from: readReply, command: "XREADGROUP")
        return batches.first { $0.stream == stream }?.entries ?? []
    }

    /// Takes over entries pending longer than `minIdle` (`XAUTOCLAIM`), for a consumer that
    /// picks up work another consumer did not finish.
    ///
    /// - Parameters:
    ///   - stream: The stream key.
    ///   - group: The group name.
    ///   - consumer: The consumer that takes the entries.
    ///   - minIdle: Only entries idle at least this long; make it longer than the work can take.
    ///   - start: Where to scan from: `0-0`, or ``StreamClaim/nextStart`` of the previous call.
    ///   - count: The most entries to claim in this call.
    public func xautoclaim(
        _ stream: String,
        group: String,
        consumer: String,
        minIdle: Duration,
        start: String = "0-0",
        count: Int = 100
    ) async throws -> StreamClaim {
        let reply = try await self.send([
            "XAUTOCLAIM", .string(stream), .string(group), .string(consumer),
            .integer(Self.milliseconds(minIdle, minimum: 0)), .string(start), "COUNT", .integer(count),
        ])
        guard let parts = reply.array, parts.count >= 2, let next = parts[0].string else {
            throw RedisError.unexpectedReply(command: "XAUTOCLAIM", reply: reply.description)
        }
        // Entries trimmed away while pending come back as nulls in Redis 6.2, in part 3 since 7.0.
        var entries: [StreamEntry] = []
        var deleted: [String] = parts.count > 2 ? (parts[2].array ?? []).compactMap(\.string) : []
        for item in parts[1].array ?? [] {
            if let entry = StreamEntry(reply: item) {
                entries.append(entry)
            } else if let id = item.array?.first?.string {
                deleted.append(id)
            }
        }
        return StreamClaim(nextStart: next, entries: entries, deletedIDs: deleted)
    }

    /// Reads entries after the given IDs (`XREAD`), for per-instance streams read without a group.
    ///
    /// - Parameters:
    ///   - streams: Each stream with the ID to read after (`$` for only what arrives next).
    ///   - count: The most entries per stream.
    ///   - block: Wait up to this long (at least 1 ms) when nothing is there; `nil` returns at
    ///     once. Blocking requires a dedicated connection.
    public func xread(streams: [(stream: String, id: String)], count: Int? = nil, block: Duration? = nil) async throws -> [StreamBatch] {
        let command = Self.xreadCommand(streams: streams, count: count, block: block)
        let reply = try await self.send(command, timeout: block.map { $0 + Self.blockingReplyMargin })
        return try StreamBatch.list(from: reply, command: "XREAD")
    }

    static func xreadCommand(streams: [(stream: String, id: String)], count: Int?, block: Duration?) -> [RedisArgument] {
        var command: [RedisArgument] = ["XREAD"]
        command.reserveCapacity(6 + 2 * streams.count)
        if let count { command += ["COUNT", .integer(count)] }
        if let block { command += ["BLOCK", .integer(Self.milliseconds(block))] }
        command.append("STREAMS")
        command += streams.map { .string($0.stream) }
        command += streams.map { .string($0.id) }
        return command
    }

    /// The number of entries in a stream (`XLEN`); 0 when it does not exist.
    public func xlen(_ stream: String) async throws -> Int {
        let reply = try await self.send(["XLEN", .string(stream)])
        guard let length = reply.int else { throw RedisError.unexpectedReply(command: "XLEN", reply: reply.description) }
        return length
    }

    /// Entries between two IDs inclusive, oldest first (`XRANGE`; `-` and `+` are the ends).
    public func xrange(_ stream: String, from start: String = "-", to end: String = "+", count: Int? = nil) async throws -> [StreamEntry] {
        var command: [RedisArgument] = ["XRANGE", .string(stream), .string(start), .string(end)]
        if let count { command += ["COUNT", .integer(count)] }
        return try StreamEntry.list(from: try await self.send(command), command: "XRANGE")
    }

    /// Entries between two IDs inclusive, newest first (`XREVRANGE`; `+` and `-` are the ends).
    public func xrevrange(_ stream: String, from end: String = "+", to start: String = "-", count: Int? = nil) async throws -> [StreamEntry] {
        var command: [RedisArgument] = ["XREVRANGE", .string(stream), .string(end), .string(start)]
        if let count { command += ["COUNT", .integer(count)] }
        return try StreamEntry.list(from: try await self.send(command), command: "XREVRANGE")
    }

    /// Deletes entries (`XDEL`); returns how many existed.
    @discardableResult
    public func xdel(_ stream: String, ids: [String]) async throws -> Int {
        guard !ids.isEmpty else { return 0 }
        return try await self.send(["XDEL", .string(stream)] + ids.map { .string($0) }).int ?? 0
    }

    /// Trims a stream to about `maxLength` entries (`XTRIM MAXLEN ~`); returns how many went.
    @discardableResult
    public func xtrim(_ stream: String, maxLength: Int, approximate: Bool = true) async throws -> Int {
        try await self.send(["XTRIM", .string(stream), "MAXLEN", approximate ? "~" : "=", .integer(maxLength)]).int ?? 0
    }

    /// The pending summary of a group (`XPENDING stream group`), for lag metrics.
    ///
    /// - Throws: ``RedisError`` with ``RedisError/isNoGroup`` when the group does not exist.
    public func xpendingSummary(_ stream: String, group: String) async throws -> StreamPendingSummary {
        let reply = try await self.send(["XPENDING", .string(stream), .string(group)])
        guard let parts = reply.array, parts.count == 4, let count = parts[0].int else {
            throw RedisError.unexpectedReply(command: "XPENDING", reply: reply.description)
        }
        var consumers: [String: Int] = [:]
        for pair in parts[3].array ?? [] {
            if let fields = pair.array, fields.count == 2, let name = fields[0].string, let pending = fields[1].int {
                consumers[name] = pending
            }
        }
        return StreamPendingSummary(count: count, smallestID: parts[1].string, greatestID: parts[2].string, consumers: consumers)
    }

    /// The consumer groups of a stream (`XINFO GROUPS`), with pending counts and lag.
    public func xinfoGroups(_ stream: String) async throws -> [StreamGroupInfo] {
        let reply = try await self.send(["XINFO", "GROUPS", .string(stream)])
        guard let groups = reply.array else { throw RedisError.unexpectedReply(command: "XINFO GROUPS", reply: reply.description) }
        return try groups.map { group in
            guard let info = StreamGroupInfo(reply: group) else {
                throw RedisError.unexpectedReply(command: "XINFO GROUPS", reply: group.description)
            }
            return info
        }
    }

    /// Whole milliseconds in `duration`, at least `minimum` (1 by default: Redis reads
    /// `BLOCK 0` as "forever").
    static func milliseconds(_ duration: Duration, minimum: Int = 1) -> Int {
        let components = duration.components
        let milliseconds = components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
        return max(minimum, Int(milliseconds))
    }
}
