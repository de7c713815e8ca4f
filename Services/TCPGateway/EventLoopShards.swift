import NIOCore
import NIOPosix

/// One value per event loop of a group, found from a channel's loop without any lookup cost
/// beyond a small immutable dictionary.
///
/// The gateway keeps per-connection tables and outgoing queues per event loop so that the
/// handlers touching them never leave their own thread: no lock, no actor hop, no task per frame.
struct EventLoopShards<Shard: Sendable>: Sendable {
    /// The shards, in the group's loop order; a shard's position is its index.
    let all: [Shard]
    private let indexByLoop: [ObjectIdentifier: Int]

    /// - Parameter make: builds the shard of the loop at `index`.
    init(group: MultiThreadedEventLoopGroup, make: (_ index: Int, _ eventLoop: any EventLoop) -> Shard) {
        var shards: [Shard] = []
        var indexByLoop: [ObjectIdentifier: Int] = [:]
        for (index, loop) in group.makeIterator().enumerated() {
            shards.append(make(index, loop))
            indexByLoop[ObjectIdentifier(loop)] = index
        }
        self.all = shards
        self.indexByLoop = indexByLoop
    }

    /// The shard of `eventLoop`.
    /// - Precondition: `eventLoop` belongs to the group the shards were built for.
    func shard(for eventLoop: any EventLoop) -> Shard {
        guard let index = self.indexByLoop[ObjectIdentifier(eventLoop)] else {
            preconditionFailure("event loop \(eventLoop) is not one of the gateway's group")
        }
        return self.all[index]
    }

    /// The shard at `index`, or nil when there is none (an index read from outside, e.g. a
    /// connection id in a stream entry).
    subscript(index: Int) -> Shard? {
        self.all.indices.contains(index) ? self.all[index] : nil
    }
}
