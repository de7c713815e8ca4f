/// The summary form of `XPENDING stream group`: how much has been delivered and not acknowledged.
public struct StreamPendingSummary: Sendable, Hashable {
    /// Entries delivered to the group's consumers and not yet acknowledged.
    public var count: Int
    /// The oldest pending ID, `nil` when nothing is pending.
    public var smallestID: String?
    /// The newest pending ID, `nil` when nothing is pending.
    public var greatestID: String?
    /// Pending entries per consumer name.
    public var consumers: [String: Int]

    /// Builds a summary.
    public init(count: Int, smallestID: String?, greatestID: String?, consumers: [String: Int]) {
        self.count = count
        self.smallestID = smallestID
        self.greatestID = greatestID
        self.consumers = consumers
    }
}
