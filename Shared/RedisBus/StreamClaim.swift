/// What `XAUTOCLAIM` moved to the calling consumer.
public struct StreamClaim: Sendable, Hashable {
    /// Where the next scan starts; `0-0` when the whole pending list has been scanned.
    public var nextStart: String
    /// Entries now owned by the caller (their delivery count was incremented).
    public var entries: [StreamEntry]
    /// Pending IDs whose entries no longer exist (trimmed or deleted); Redis dropped them from
    /// the pending list.
    public var deletedIDs: [String]

    /// Builds a claim result.
    public init(nextStart: String, entries: [StreamEntry], deletedIDs: [String]) {
        self.nextStart = nextStart
        self.entries = entries
        self.deletedIDs = deletedIDs
    }

    /// Whether the scan went through the whole pending list.
    public var isComplete: Bool { self.nextStart == "0-0" }
}
