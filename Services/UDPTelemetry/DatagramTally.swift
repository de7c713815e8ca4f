/// Counts kept by one datagram handler during a read burst and added to ``TelemetryMetrics``
/// in one go when the burst ends.
struct DatagramTally {
    var received = 0
    var accepted = 0
    var cacheHits = 0
    var cacheMisses = 0
    private var dropped = [Int](repeating: 0, count: DropReason.allCases.count)
    private var anyDropped = false

    mutating func drop(_ reason: DropReason, count: Int = 1) {
        self.dropped[reason.index] += count
        self.anyDropped = true
    }

    /// Adds the counts to `metrics` and starts over from zero.
    mutating func flush(into metrics: TelemetryMetrics) {
        if self.received > 0 { metrics.received.increment(by: self.received) }
        if self.accepted > 0 { metrics.accepted.increment(by: self.accepted) }
        if self.cacheHits > 0 { metrics.cacheHits.increment(by: self.cacheHits) }
        if self.cacheMisses > 0 { metrics.cacheMisses.increment(by: self.cacheMisses) }
        if self.anyDropped {
            for reason in DropReason.allCases {
                metrics.dropped(reason, count: self.dropped[reason.index])
                self.dropped[reason.index] = 0
            }
            self.anyDropped = false
        }
        self.received = 0
        self.accepted = 0
        self.cacheHits = 0
        self.cacheMisses = 0
    }
}
