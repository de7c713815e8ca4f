import Logging
import Messaging
import NIOCore
import NIOPosix
import Synchronization

/// Every connection this gateway holds, by connection id, plus the instance-wide counters that
/// decide whether a new session fits (slots) and whether the gateway is draining.
///
/// Why NIO-confined shards rather than an actor: registration and removal happen inside the
/// connection's own handler callbacks, on its event loop. Doing them synchronously there means a
/// router command can never find a half-registered connection, a removal can never overtake its
/// registration (as two actor-bound tasks could), and no handler ever suspends. Each event loop
/// owns one ``Shard``; the connection id names its shard, so a command costs one hop to that
/// loop per batch, not a lock or an actor round trip. The two instance-wide facts (slots in
/// use, draining) are single atomics.
final class ConnectionRegistry: Sendable {
    /// The connection table of one event loop; touch it only on that loop.
    final class Shard: Sendable {
        let index: Int
        let eventLoop: any EventLoop
        private let table: NIOLoopBoundBox<Table>
        private let bootTag: String
        private let counters: Counters

        private struct Entry {
            var channel: any Channel
            var holdsSlot: Bool
        }

        private struct Table {
            var nextNumber: UInt64 = 0
            var entries: [String: Entry] = [:]
            /// The connections that asked for a ``ConnectionOrder/deadlineReached``, and when.
            var deadlines: [String: NIODeadline] = [:]
            /// Sessions that closed in the last ``closedMemory``: a frame the router sent them
            /// before it learnt of the close is returned to it (``ConnectionRegistry/deliver(_:)``).
            var closed: [String: RouterMessage.ConnectionAddress] = [:]
            /// The same ids, oldest first, with when they closed (to forget them in order).
            var closedOrder = CircularBuffer<(id: String, at: NIODeadline)>()
        }

        /// How long a closed session's address is remembered: the router learns of a close within
        /// milliseconds; frames it sent before are at most a batch or two behind.
        static let closedMemory = TimeAmount.seconds(10)
        /// At most this many closed sessions remembered per shard (a burst of closes forgets the
        /// oldest first).
        static let closedMemoryLimit = 20_000

        /// How often the shard looks for deadlines that have passed: a deadline is met up to
        /// this late.
        static let sweepInterval = TimeAmount.milliseconds(250)

        fileprivate init(index: Int, eventLoop: any EventLoop, bootTag: String, counters: Counters) {
            self.index = index
            self.eventLoop = eventLoop
            self.table = .makeBoxSendingValue(Table(), eventLoop: eventLoop)
            self.bootTag = bootTag
            self.counters = counters
            // For the life of the event loop, as the shard.
            eventLoop.scheduleRepeatedTask(initialDelay: Self.sweepInterval, delay: Self.sweepInterval) { _ in
                self.sweep()
            }
        }

        /// Adds a newly active connection and returns its id, unique within this process and
        /// distinct from any earlier process of the same instance (the boot tag).
        func register(_ channel: any Channel) -> String {
            self.table.value.nextNumber += 1
            let id = "\(self.bootTag).\(self.index).\(self.table.value.nextNumber)"
            self.table.value.entries[id] = Entry(channel: channel, holdsSlot: false)
            self.counters.connectionCountChanged(by: 1)
            return id
        }

        /// Takes one of the `SlotsCount` slots for connection `id`; false when all are taken.
        /// The slot is given back by ``remove(_:)``.
        func reserveSlot(for id: String) -> Bool {
            guard self.table.value.entries[id]?.holdsSlot == false, self.counters.takeSlot() else { return false }
            self.table.value.entries[id]?.holdsSlot = true
            return true
        }

        /// Forgets connection `id` (it closed), giving back its slot; `session` (its session's
        /// address, when it had one) is remembered for ``closedMemory``.
        func remove(_ id: String, session: RouterMessage.ConnectionAddress? = nil) {
            guard let entry = self.table.value.entries.removeValue(forKey: id) else { return }
            if let session {
                if self.table.value.closedOrder.count >= Self.closedMemoryLimit, let oldest = self.table.value.closedOrder.popFirst() {
                    self.table.value.closed.removeValue(forKey: oldest.id)
                }
                self.table.value.closed[id] = session
                self.table.value.closedOrder.append((id, .now()))
            }
            self.table.value.deadlines.removeValue(forKey: id)
            if entry.holdsSlot {
                self.counters.releaseSlot()
            }
            self.counters.connectionCountChanged(by: -1)
        }

        /// When connection `id` wants ``ConnectionOrder/deadlineReached`` (once; nil: never),
        /// replacing any deadline it set before.
        ///
        /// Handshake steps and idle sessions are timed this way rather than by a task scheduled
        /// on the event loop per connection: NIO cancels a scheduled task by searching every
        /// task of its loop, so with thousands of sessions held each login's three re-arms
        /// cost ≈ 10 % of the gateway's CPU; a shard's sweep every ``sweepInterval`` costs a
        /// look at each deadline, and nothing per re-arm.
        func setDeadline(_ deadline: NIODeadline?, for id: String) {
            guard self.table.value.entries[id] != nil else { return }
            self.table.value.deadlines[id] = deadline
        }

        /// Gives ``ConnectionOrder/deadlineReached`` to every connection whose deadline has
        /// passed, clearing it.
        private func sweep() {
            let now = NIODeadline.now()
            while let oldest = self.table.value.closedOrder.first, oldest.at + Self.closedMemory <= now {
                self.table.value.closedOrder.removeFirst()
                self.table.value.closed.removeValue(forKey: oldest.id)
            }
            var due: [String] = []
            for (id, deadline) in self.table.value.deadlines where deadline <= now {
                due.append(id)
            }
            for id in due {
                self.table.value.deadlines.removeValue(forKey: id)
                self.deliver(.deadlineReached, to: id)
            }
        }

        /// Hands `order` to the connection's handlers and returns its channel; nil when the
        /// connection is unknown.
        @discardableResult
        func deliver(_ order: ConnectionOrder, to id: String) -> (any Channel)? {
            guard let entry = self.table.value.entries[id] else { return nil }
            entry.channel.pipeline.syncOperations.fireUserInboundEventTriggered(order)
            return entry.channel
        }

        /// The session connection `id` held, if it closed less than ``closedMemory`` ago.
        func closedSession(_ id: String) -> RouterMessage.ConnectionAddress? {
            self.table.value.closed[id]
        }

        /// Gives `order` to every connection of the shard and returns their close futures.
        func deliverToAll(_ order: ConnectionOrder) -> [EventLoopFuture<Void>] {
            let channels = self.table.value.entries.values.map(\.channel)
            for channel in channels {
                channel.pipeline.syncOperations.fireUserInboundEventTriggered(order)
            }
            return channels.map(\.closeFuture)
        }
    }

    /// Distinguishes this process's connection ids from those of an earlier process that used
    /// the same instance id, so a stale router command can never reach a new connection.
    let bootTag: String
    let shards: EventLoopShards<Shard>
    private let metrics: GatewayMetrics
    private let logger: Logger
    /// Hands a frame for a session that has just closed back to the router, from the shard's loop.
    private let returnFrame: @Sendable (RouterMessage.ConnectionAddress, [UInt8], any EventLoop) -> Void
    private let drainingFlag = Atomic<Bool>(false)
    private let listeningFlag = Atomic<Bool>(false)

    /// - Parameters:
    ///   - slotsCount: how many sessions (counted from an accepted initiation) may be open.
    ///   - bootTag: a text unique to this process start (no dots).
    ///   - returnFrame: publishes a frame meant for a session that has just closed, after that
    ///     session's close (the same loop's outbox keeps the order), for the router to hold.
    init(
        group: MultiThreadedEventLoopGroup, slotsCount: Int, bootTag: String, metrics: GatewayMetrics, logger: Logger,
        returnFrame: @escaping @Sendable (RouterMessage.ConnectionAddress, [UInt8], any EventLoop) -> Void
    ) {
        self.bootTag = bootTag
        self.metrics = metrics
        self.logger = logger
        self.returnFrame = returnFrame
        let counters = Counters(slotsCount: slotsCount, metrics: metrics)
        self.shards = EventLoopShards(group: group) { index, loop in
            Shard(index: index, eventLoop: loop, bootTag: bootTag, counters: counters)
        }
    }

    /// True once ``startDraining()`` was called: initiations are answered with the redirect
    /// rule (or refused) and no new session starts.
    var isDraining: Bool { self.drainingFlag.load(ordering: .sequentiallyConsistent) }

    /// True while the listener is bound (readiness).
    var isListening: Bool { self.listeningFlag.load(ordering: .relaxed) }

    func setListening(_ listening: Bool) {
        self.listeningFlag.store(listening, ordering: .relaxed)
    }

    func startDraining() {
        self.drainingFlag.store(true, ordering: .sequentiallyConsistent)
    }

    /// The shard of a connection id (`<boot>.<shard>.<n>`), nil for an id this process never
    /// issued.
    func shard(forConnection id: String) -> Shard? {
        let parts = id.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == self.bootTag, let index = Int(parts[1]) else { return nil }
        return self.shards[index]
    }

    /// Executes router commands: each batch of commands for one shard costs one hop to its loop,
    /// and commands for one connection keep their order. A connection's writes are flushed once
    /// the batch is done (``ConnectionOrder/write(_:)`` does not flush), so the frames the batch
    /// holds for one element leave in one system call rather than one each.
    func deliver(_ commands: [GatewayCommand]) {
        var perShard: [Int: [GatewayCommand]] = [:]
        for command in commands {
            guard let shard = self.shard(forConnection: command.connection) else {
                self.metrics.droppedUnknownConnection.increment()
                self.logger.debug("command for an unknown connection", metadata: ["conn": "\(command.connection)"])
                continue
            }
            perShard[shard.index, default: []].append(command)
        }
        for (index, commands) in perShard {
            guard let shard = self.shards[index] else { continue }
            let metrics = self.metrics
            let logger = self.logger
            let returnFrame = self.returnFrame
            shard.eventLoop.execute {
                var written: [ObjectIdentifier: any Channel] = [:]
                for command in commands {
                    let order: ConnectionOrder
                    switch command {
                    case .write(_, let frame): order = .write(frame)
                    case .close(_, let code): order = .close(code)
                    }
                    guard let channel = shard.deliver(order, to: command.connection) else {
                        if case .write(let frame) = order, let session = shard.closedSession(command.connection) {
                            metrics.framesReturned.increment()
                            returnFrame(session, frame, shard.eventLoop)
                        } else {
                            metrics.droppedUnknownConnection.increment()
                            logger.debug("command for a closed connection", metadata: ["conn": "\(command.connection)"])
                        }
                        continue
                    }
                    if case .write = order {
                        written[ObjectIdentifier(channel)] = channel
                    }
                }
                for channel in written.values {
                    channel.flush()
                }
            }
        }
    }

    /// Gives `order` to every connection and waits until they have all closed, at most `timeout`.
    /// - Returns: true when every connection closed in time.
    func closeAll(with order: ConnectionOrder, timeout: TimeAmount) async -> Bool {
        var futures: [EventLoopFuture<Void>] = []
        for shard in self.shards.all {
            if let closing = try? await shard.eventLoop.submit({ shard.deliverToAll(order) }).get() {
                futures += closing
            }
        }
        guard let loop = self.shards.all.first?.eventLoop, !futures.isEmpty else { return true }
        let done = loop.makePromise(of: Bool.self)
        let timer = loop.scheduleTask(in: timeout) { done.succeed(false) }
        EventLoopFuture.andAllComplete(futures, on: loop).whenComplete { _ in
            timer.cancel()
            done.succeed(true)
        }
        return (try? await done.futureResult.get()) ?? false
    }

    /// The instance-wide counts every shard updates: slots in use and open connections.
    fileprivate final class Counters: Sendable {
        let slotsCount: Int
        private let metrics: GatewayMetrics
        private let slotsInUse = Atomic<Int>(0)
        private let connections = Atomic<Int>(0)

        init(slotsCount: Int, metrics: GatewayMetrics) {
            self.slotsCount = slotsCount
            self.metrics = metrics
        }

        func takeSlot() -> Bool {
            let taken = self.slotsInUse.wrappingAdd(1, ordering: .relaxed).newValue
            if taken > self.slotsCount {
                self.slotsInUse.wrappingSubtract(1, ordering: .relaxed)
                return false
            }
            self.metrics.slotsUsed.record(taken)
            return true
        }

        func releaseSlot() {
            let left = self.slotsInUse.wrappingSubtract(1, ordering: .relaxed).newValue
            self.metrics.slotsUsed.record(left)
        }

        func connectionCountChanged(by delta: Int) {
            let open = self.connections.wrappingAdd(delta, ordering: .relaxed).newValue
            self.metrics.connectionsOpen.record(open)
        }
    }
}
