import IoTSocket
import NIOCore

/// One event loop's knowledge of which telemetry tokens are valid, in front of Redis.
///
/// Each token is in one of three states:
/// - **known**: Redis named its owner less than `ownerLifetime` ago (and its key has not
///   expired since), so its datagrams are accepted at once; once the owner is
///   `refreshAfter` old, the next datagram triggers a background re-read, so active devices
///   never wait while expired and revoked tokens stop working within `ownerLifetime`;
/// - **absent**: Redis said no less than `absenceLifetime` ago, so its datagrams are dropped
///   at once, with the reason found (unknown, expired, revoked);
/// - **resolving**: a lookup is in flight; datagrams wait for it in arrival order, so one
///   device's telemetry keeps its order and concurrent datagrams share one lookup.
///
/// A datagram whose token is known or absent costs one hash lookup. Tokens never seen before
/// are looked up only within a rate budget and an in-flight limit, so a spray of random tokens
/// costs Redis a bounded number of lookups whatever its rate; the rest are dropped as
/// ``DropReason/throttled``. Every table is bounded (see ``TelemetrySettings``).
///
/// Confined to one event loop (its datagram handler owns it), hence a value type with no locks.
struct TelemetryTokenCache {
    /// What the cache alone says about a datagram's token.
    enum State {
        /// Accept it for this owner (UID hex). When `refreshDue`, call ``beginRefresh(_:)``.
        case owner(uid: String, refreshDue: Bool)
        /// Drop it.
        case absent(DropReason)
        /// Redis must be asked first: ``hold(_:for:now:)`` the datagram.
        case lookupNeeded
    }

    /// What a finished lookup releases.
    enum Release {
        case nothing
        /// The held datagrams, oldest first, to append for this owner.
        case accept(uid: String, [HeldDatagram])
        /// This many held datagrams are dropped.
        case drop(DropReason, count: Int)
    }

    private struct Owner {
        var uid: String
        /// When the lookup that read it was sent: Redis's answer is at least this recent.
        var checkedAt: NIODeadline
        var refreshAt: NIODeadline
        var validUntil: NIODeadline
        /// When the key expires, counted from `checkedAt` so it is never late; nil: never.
        var keyExpiry: NIODeadline?
        /// A lookup for this token is in flight.
        var refreshing: Bool
    }

    private enum Entry {
        case known(Owner)
        case absent(DropReason, until: NIODeadline)
        /// `previous`: the owner before the token went stale, if any (it tells expired and
        /// revoked apart from unknown, and carries the outage grace); `absence`: why it was
        /// absent before, so a token stays "revoked" rather than becoming "unknown" once its
        /// absence has been re-checked.
        case resolving(previous: Owner?, absence: DropReason?)
    }

    private let ownerLifetime: TimeAmount
    private let refreshAfter: TimeAmount
    private let absenceLifetime: TimeAmount
    private let outageGrace: TimeAmount
    private let idleRetention: TimeAmount
    private let maxCachedTokens: Int
    private let maxRememberedAbsences: Int
    private let maxLookupsInFlight: Int
    private let maxHeldDatagrams: Int
    private let maxHeldPerToken: Int
    private let lookupsPerSecond: Double

    private var entries: [TelemetryToken: Entry] = [:]
    private var held: [TelemetryToken: [HeldDatagram]] = [:]
    private var absentCount = 0
    private var heldCount = 0
    private var lookupsInFlight = 0
    private var lookupsToSend: [TelemetryToken] = []
    private var lookupBudget: Double
    private var budgetRefilledAt: NIODeadline

    init(settings: TelemetrySettings, now: NIODeadline) {
        self.ownerLifetime = TimeAmount(settings.ownerLifetime)
        self.refreshAfter = TimeAmount(settings.refreshAfter)
        self.absenceLifetime = TimeAmount(settings.absenceLifetime)
        self.outageGrace = TimeAmount(settings.outageGrace)
        self.idleRetention = TimeAmount(settings.idleRetention)
        self.maxCachedTokens = settings.maxCachedTokens
        self.maxRememberedAbsences = settings.maxRememberedAbsences
        self.maxLookupsInFlight = settings.maxLookupsInFlight
        self.maxHeldDatagrams = settings.maxHeldDatagrams
        self.maxHeldPerToken = settings.maxHeldPerToken
        self.lookupsPerSecond = Double(settings.newTokenLookupsPerSecond)
        self.lookupBudget = self.lookupsPerSecond
        self.budgetRefilledAt = now
    }

    /// The token's state: one hash lookup, no change.
    func state(of token: TelemetryToken, now: NIODeadline) -> State {
        switch self.entries[token] {
        case .known(let owner)?:
            guard now < owner.validUntil else { return .lookupNeeded }
            return .owner(uid: owner.uid, refreshDue: !owner.refreshing && now >= owner.refreshAt)
        case .absent(let reason, let until)?:
            return now < until ? .absent(reason) : .lookupNeeded
        case .resolving?, nil:
            return .lookupNeeded
        }
    }

    /// Queues a background re-read of a known token (after ``state(of:now:)`` said it is due).
    mutating func beginRefresh(_ token: TelemetryToken) {
        guard case .known(var owner)? = self.entries[token], !owner.refreshing else { return }
        owner.refreshing = true
        self.entries[token] = .known(owner)
        self.queueLookup(token)
    }

    /// Keeps `datagram` until its token's lookup finishes (queueing the lookup unless one is in
    /// flight already).
    ///
    /// - Returns: nil when held, or why it must be dropped instead: ``DropReason/throttled``
    ///   for a never-seen token beyond the lookup budget, ``DropReason/backpressure`` when too
    ///   many datagrams wait already.
    mutating func hold(_ datagram: HeldDatagram, for token: TelemetryToken, now: NIODeadline) -> DropReason? {
        switch self.entries[token] {
        case .resolving?:
            guard self.heldCount < self.maxHeldDatagrams, self.held[token, default: []].count < self.maxHeldPerToken else {
                return .backpressure
            }
        case .known(let owner)?:
            // Stale: its re-read is exempt from the budget (attackers cannot make tokens known).
            guard self.heldCount < self.maxHeldDatagrams else { return .backpressure }
            self.replace(token, with: .resolving(previous: owner, absence: nil))
            if !owner.refreshing {
                self.queueLookup(token)
            }
        case .absent(let absence, _)?:
            // Remembered absence has run out: looked up again, within the budget.
            guard self.heldCount < self.maxHeldDatagrams else { return .backpressure }
            guard self.lookupsInFlight < self.maxLookupsInFlight, self.spendLookupBudget(now: now) else { return .throttled }
            self.replace(token, with: .resolving(previous: nil, absence: absence))
            self.queueLookup(token)
        case nil:
            guard self.heldCount < self.maxHeldDatagrams else { return .backpressure }
            guard self.lookupsInFlight < self.maxLookupsInFlight, self.entries.count < self.maxCachedTokens,
                self.spendLookupBudget(now: now)
            else { return .throttled }
            self.replace(token, with: .resolving(previous: nil, absence: nil))
            self.queueLookup(token)
        }
        self.held[token, default: []].append(datagram)
        self.heldCount += 1
        return nil
    }

    /// The tokens to look up since the last call, each once.
    mutating func takeLookups() -> [TelemetryToken] {
        defer { self.lookupsToSend.removeAll(keepingCapacity: true) }
        return self.lookupsToSend
    }

    /// Applies one finished lookup and returns what it releases.
    ///
    /// - Parameters:
    ///   - sentAt: when the lookup was sent (owners and key expiries are counted from it).
    ///   - now: the current time.
    mutating func resolve(_ token: TelemetryToken, _ result: TokenLookupResult, sentAt: NIODeadline, now: NIODeadline) -> Release {
        self.lookupsInFlight -= 1
        let waiting = self.held.removeValue(forKey: token) ?? []
        self.heldCount -= waiting.count
        let previous: Owner?
        var formerAbsence: DropReason?
        switch self.entries[token] {
        case .known(let owner)?:
            previous = owner
        case .resolving(let owner, let absence)?:
            previous = owner
            formerAbsence = absence
        case .absent?, nil:
            // Forgotten meanwhile (swept as idle): the answer has nobody to serve.
            return waiting.isEmpty ? .nothing : .drop(.lookupFailed, count: waiting.count)
        }

        switch result {
        case .owner(let uid, let timeToLive):
            let keyExpiry = timeToLive.map { sentAt + $0 }
            var validUntil = sentAt + self.ownerLifetime
            if let keyExpiry, keyExpiry < validUntil {
                validUntil = keyExpiry
            }
            let owner = Owner(
                uid: uid, checkedAt: sentAt, refreshAt: sentAt + self.refreshAfter, validUntil: validUntil, keyExpiry: keyExpiry,
                refreshing: false)
            self.replace(token, with: .known(owner))
            // Held datagrams arrived before Redis confirmed the token, so they count as valid
            // even if its key expires in the next instant.
            return waiting.isEmpty ? .nothing : .accept(uid: uid, waiting)

        case .absent, .refused:
            var reason = previous.map { Self.reasonForLoss(of: $0, now: now) } ?? formerAbsence ?? .unknownToken
            if case .refused(let refusal) = result {
                reason = refusal
            }
            if self.absentCount < self.maxRememberedAbsences {
                self.replace(token, with: .absent(reason, until: now + self.absenceLifetime))
            } else {
                self.remove(token)
            }
            return waiting.isEmpty ? .nothing : .drop(reason, count: waiting.count)

        case .failed:
            guard var owner = previous, now < self.graceEnd(of: owner) else {
                self.remove(token)
                return waiting.isEmpty ? .nothing : .drop(.lookupFailed, count: waiting.count)
            }
            // Redis is unreachable: keep a token known before the outage working a little
            // longer (see `TelemetrySettings.outageGrace`), retrying at the usual pace.
            owner.refreshing = false
            owner.refreshAt = now + self.refreshAfter
            owner.validUntil = min(now + self.ownerLifetime, self.graceEnd(of: owner))
            self.replace(token, with: .known(owner))
            return waiting.isEmpty ? .nothing : .accept(uid: owner.uid, waiting)
        }
    }

    /// Forgets absences past their lifetime and owners unused for `idleRetention`, so memory
    /// follows the active tokens. Call about once a second.
    mutating func sweep(now: NIODeadline) {
        var forgotten: [TelemetryToken] = []
        for (token, entry) in self.entries {
            switch entry {
            case .absent(_, let until) where until <= now:
                forgotten.append(token)
            case .known(let owner) where !owner.refreshing && owner.validUntil + self.idleRetention <= now:
                forgotten.append(token)
            default:
                break
            }
        }
        for token in forgotten {
            self.remove(token)
        }
    }

    // MARK: Internals

    /// Expired if its key's known expiry has come (a key is never deleted early by expiry);
    /// revoked if it vanished before. The margin absorbs timer jitter.
    private static func reasonForLoss(of owner: Owner, now: NIODeadline) -> DropReason {
        guard let expiry = owner.keyExpiry, expiry <= now + .milliseconds(50) else { return .revoked }
        return .expired
    }

    private func graceEnd(of owner: Owner) -> NIODeadline {
        let end = owner.checkedAt + self.outageGrace
        guard let expiry = owner.keyExpiry else { return end }
        return min(end, expiry)
    }

    private mutating func queueLookup(_ token: TelemetryToken) {
        self.lookupsToSend.append(token)
        self.lookupsInFlight += 1
    }

    /// A token bucket: `lookupsPerSecond` per second, holding at most one second's worth.
    private mutating func spendLookupBudget(now: NIODeadline) -> Bool {
        if now > self.budgetRefilledAt {
            let elapsed = Double((now - self.budgetRefilledAt).nanoseconds) / 1e9
            self.lookupBudget = min(self.lookupsPerSecond, self.lookupBudget + elapsed * self.lookupsPerSecond)
            self.budgetRefilledAt = now
        }
        guard self.lookupBudget >= 1 else { return false }
        self.lookupBudget -= 1
        return true
    }

    private mutating func replace(_ token: TelemetryToken, with entry: Entry) {
        let old = self.entries.updateValue(entry, forKey: token)
        if case .absent? = old { self.absentCount -= 1 }
        if case .absent = entry { self.absentCount += 1 }
    }

    private mutating func remove(_ token: TelemetryToken) {
        if case .absent? = self.entries.removeValue(forKey: token) { self.absentCount -= 1 }
    }
}
