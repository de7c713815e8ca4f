import IoTSocket
import Synchronization

/// Keeps each device's telemetry deliveries in queue order while batches overlap.
///
/// The service takes a place in a device's line for each batch, synchronously and in stream
/// order, when the batch is planned; a batch's chain for that device starts once every earlier
/// place has left (the previous batch's chain for the device finished, delivered or scheduled
/// for retry). Devices absent from the batch in progress start at once, so the next batch fills
/// the in-flight slots the current one's last chains leave idle.
final class DeviceLine: Sendable {
    /// One batch's place in one device's line.
    struct Place: Sendable {
        fileprivate let uid: UID
        fileprivate let number: UInt64
    }

    private struct Line {
        var next: UInt64 = 0
        var serving: UInt64 = 0
        var waiting: [UInt64: CheckedContinuation<Void, Never>] = [:]
    }

    /// Only devices with a batch planned or in progress have a line.
    private let lines = Mutex<[UID: Line]>([:])

    /// Takes the next place in `uid`'s line. Call in stream order.
    func enqueue(_ uid: UID) -> Place {
        self.lines.withLock { lines in
            let number = lines[uid, default: Line()].next
            lines[uid, default: Line()].next += 1
            return Place(uid: uid, number: number)
        }
    }

    /// Waits until every earlier place in the line has left.
    func waitForTurn(_ place: Place) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = self.lines.withLock { lines -> Bool in
                // A place that has not left keeps its line; no line would mean nothing is ahead.
                guard var line = lines[place.uid], line.serving != place.number else { return true }
                line.waiting[place.number] = continuation
                lines[place.uid] = line
                return false
            }
            if now { continuation.resume() }
        }
    }

    /// Leaves the line (after the turn, exactly once), letting the next place go.
    func leave(_ place: Place) {
        let next = self.lines.withLock { lines -> CheckedContinuation<Void, Never>? in
            guard var line = lines[place.uid] else { return nil }
            line.serving += 1
            if line.serving == line.next {
                lines[place.uid] = nil
                return nil
            }
            let next = line.waiting.removeValue(forKey: line.serving)
            lines[place.uid] = line
            return next
        }
        next?.resume()
    }
}
