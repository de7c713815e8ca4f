import IoTSocket

/// Names one request in flight: `d:<uid hex>:<tracking>` toward object `uid` (created by the
/// central or the HTTP API), `u:<uid hex>:<tracking>` from object `uid` toward the central.
///
/// Tracking numbers are chosen by the requester (PROTOCOL.md), so the same number may be in use
/// in both directions for one object at once; the direction keeps them apart.
struct InFlightMember: Hashable, Sendable {
    enum Direction: String, Sendable {
        case towardObject = "d"
        case towardCentral = "u"
    }

    var direction: Direction
    var object: UID
    var tracking: UInt16

    var text: String { "\(self.direction.rawValue):\(self.object.hex):\(self.tracking)" }

    init(_ direction: Direction, object: UID, tracking: UInt16) {
        self.direction = direction
        self.object = object
        self.tracking = tracking
    }

    init?(text: String) {
        let parts = text.split(separator: ":")
        guard parts.count == 3, let direction = Direction(rawValue: String(parts[0])),
            let object = try? UID(hex: String(parts[1])), let tracking = UInt16(parts[2])
        else { return nil }
        self.init(direction, object: object, tracking: tracking)
    }
}
