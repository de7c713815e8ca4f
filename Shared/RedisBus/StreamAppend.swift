/// One `XADD` in a batch (see ``RedisCommandExecutor/xadd(_:)``).
public struct StreamAppend: Sendable {
    /// The stream key.
    public var stream: String
    /// The entry ID; `*` lets Redis assign one.
    public var id: String
    /// Field/value pairs, stored in this order.
    public var fields: [(name: String, value: RedisArgument)]
    /// Trim the stream to about this many entries (`MAXLEN ~ n`); `nil` never trims.
    public var maxLength: Int?
    /// Whether trimming may keep a few more entries than `maxLength` (`~`, much cheaper).
    public var approximateTrim: Bool

    /// - Parameters:
    ///   - stream: The stream key.
    ///   - id: The entry ID, `*` by default.
    ///   - fields: Field/value pairs.
    ///   - maxLength: Trim limit, none by default.
    ///   - approximateTrim: `MAXLEN ~` (default) rather than an exact `MAXLEN =`.
    public init(
        stream: String,
        id: String = "*",
        fields: [(name: String, value: RedisArgument)],
        maxLength: Int? = nil,
        approximateTrim: Bool = true
    ) {
        self.stream = stream
        self.id = id
        self.fields = fields
        self.maxLength = maxLength
        self.approximateTrim = approximateTrim
    }

    /// The `XADD` command.
    public var command: [RedisArgument] {
        var command: [RedisArgument] = []
        command.reserveCapacity(6 + 2 * self.fields.count)
        command.append("XADD")
        command.append(.string(self.stream))
        if let maxLength = self.maxLength {
            command.append("MAXLEN")
            command.append(self.approximateTrim ? "~" : "=")
            command.append(.integer(maxLength))
        }
        command.append(.string(self.id))
        for field in self.fields {
            command.append(.string(field.name))
            command.append(field.value)
        }
        return command
    }

    /// The new entry's ID from the reply to ``command``, or the error Redis gave instead.
    public static func result(of reply: RedisValue) -> Result<String, RedisError> {
        if case .error(let message) = reply {
            return .failure(.server(message: message, command: "XADD"))
        }
        guard let entryID = reply.string else { return .failure(.unexpectedReply(command: "XADD", reply: reply.description)) }
        return .success(entryID)
    }
}
