/// Makes the consumers of one group take turns: a ``StreamConsumer`` given a turn reads only
/// while its instance holds it (a leader lease, for example), so the group's entries are
/// handled one batch after the other across instances, in stream order.
public protocol ConsumerTurn: Sendable {
    /// Waits until this instance may read.
    /// - Returns: the term of the current holding, which changes each time the turn is gained
    ///   again; nil when the task was cancelled while waiting.
    func waitForTurn() async -> Int?

    /// Whether this instance still holds the turn it got as `term` (checked after each read: a
    /// batch read just after the turn was lost is left pending for the next holder).
    func holds(term: Int) -> Bool

    /// When the turn is gained, entries any consumer left pending at least this long are taken
    /// over before anything new is read (they are older than what is still unread), and once
    /// more this long afterwards (for what the previous holder read in its last moment).
    var takeoverAfter: Duration { get }
}
