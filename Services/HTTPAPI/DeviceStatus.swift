/// An object's presence as `GET /devices` reports and filters it.
enum DeviceStatus: String, CaseIterable, Sendable {
    /// Connected to a gateway now.
    case online
    /// Disconnected or asleep, its session kept within the keep delay (`KeepSessionSec`).
    case kept
    /// No session now.
    case offline
    /// Never connected since Redis holds its data (no last-seen time recorded by the router).
    case neverSeen = "never-seen"

    /// The status of an element whose session record is `session` (nil: none) and whose last
    /// login or disconnect the router recorded at `lastSeen` (nil: never).
    init(session: SessionRecord?, lastSeen: Int?) {
        switch session?.state {
        case .online?: self = .online
        case .kept?: self = .kept
        case nil: self = lastSeen == nil ? .neverSeen : .offline
        }
    }
}
