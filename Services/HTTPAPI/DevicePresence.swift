import Foundation
import IoTSocket

/// What the API reports about one element: its ACL entry (absent for the central) and where
/// its session is, read from Redis at one moment.
struct DevicePresence: Sendable {
    var uid: UID
    var group: GroupName?
    var session: SessionRecord?
    /// Remaining lifetime of its telemetry token in ms: nil without a token, -1 without expiry.
    var tokenTimeToLive: Int?
    /// The router's record of its last login or disconnect (Unix ms), nil if never seen.
    var lastSeen: Int?

    var status: DeviceStatus { DeviceStatus(session: self.session, lastSeen: self.lastSeen) }

    /// The JSON form (`Device` in the OpenAPI document). Times are RFC 3339 UTC.
    ///
    /// - Parameters:
    ///   - now: Unix ms of the read, for the token's expiry and `lastSeen`.
    ///   - keepSessionMilliseconds: the keep delay, from which a kept session's disconnect time
    ///     is derived (`keptUntil` − delay).
    func json(now: Int, keepSessionMilliseconds: Int) -> JSONValue {
        let session = self.session
        var lastSeen: Int?
        switch session?.state {
        case .online?: lastSeen = now
        case .kept?: lastSeen = session?.keptUntil.map { $0 - keepSessionMilliseconds }
        case nil: lastSeen = self.lastSeen
        }
        var members: [(String, JSONValue)] = [("UID", .string(self.uid.string))]
        if let group = self.group {
            members.append(("GroupName", .string(group.string)))
        }
        members += [
            ("status", .string(self.status.rawValue)),
            ("gateway", Self.optional(session?.gateway)),
            ("connectionId", Self.optional(session?.connection)),
            ("connectedSince", Self.time(session?.since)),
            ("remoteAddress", Self.optional(session?.remoteAddress)),
            ("keptUntil", Self.time(session?.state == .kept ? session?.keptUntil : nil)),
            ("lastSeen", Self.time(lastSeen)),
            ("hasTelemetryToken", .bool(self.tokenTimeToLive != nil)),
            ("telemetryTokenExpiresAt", Self.time(self.tokenTimeToLive.flatMap { $0 >= 0 ? now + $0 : nil })),
        ]
        return JSONValue(object: members)
    }

    private static func optional(_ text: String?) -> JSONValue {
        text.map(JSONValue.string) ?? .null
    }

    /// RFC 3339 with milliseconds, e.g. `2025-01-31T12:00:00.250Z`.
    static func time(_ milliseconds: Int?) -> JSONValue {
        guard let milliseconds else { return .null }
        let date = Date(timeIntervalSince1970: Double(milliseconds) / 1000)
        return .string(date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
    }
}
