/// The mutable state of one ``StreamConsumer`` or ``StreamReader`` run: its dedicated
/// connection, failure count and bookkeeping. A value owned by the running task.
struct ConsumerLoopState {
    private(set) var activeConnection: RedisConnection?
    /// Consecutive failures, for the backoff.
    var failures = 0
    /// Whether the group is known to exist on the current server.
    var groupReady = false
    /// Consecutive `NOGROUP` answers without a successful read in between.
    var missingGroupStreak = 0
    /// IDs the handler finished whose `XACK` has not gone through yet.
    var unacknowledged: [String] = []
    private var lastReclaim: ContinuousClock.Instant?

    /// The live dedicated connection, opening a new one if there is none.
    /// The loop's connection, opened if needed; on the client's own event loop when
    /// `onClientLoop` (for handlers that run there), else on the next loop of its group.
    mutating func connection(from client: RedisClient, onClientLoop: Bool = false) async throws -> RedisConnection {
        if let connection = self.activeConnection, connection.isActive {
            return connection
        }
        await self.dropConnection()
        let connection = try await client.makeBlockingConnection(on: onClientLoop ? client.eventLoop : nil)
        self.activeConnection = connection
        return connection
    }

    /// Closes and forgets the dedicated connection.
    mutating func dropConnection() async {
        if let connection = self.activeConnection {
            self.activeConnection = nil
            await connection.close()
        }
    }

    /// Whether a reclaim round is due (always true for the first one).
    /// When the next reclaim is due (now if none happened yet).
    func nextReclaim(every interval: Duration) -> ContinuousClock.Instant {
        guard let lastReclaim = self.lastReclaim else { return .now }
        return lastReclaim + interval
    }

    func reclaimDue(every interval: Duration) -> Bool {
        guard let lastReclaim = self.lastReclaim else { return true }
        return lastReclaim.duration(to: .now) >= interval
    }

    /// Records that a reclaim round just finished.
    mutating func reclaimed() {
        self.lastReclaim = .now
    }
}
