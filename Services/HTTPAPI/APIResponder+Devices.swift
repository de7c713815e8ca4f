import Hummingbird
import HummingbirdCore
import IoTSocket
import Messaging
import ServiceKit

/// The additive REST endpoints: devices (the ACL with presence), the central's session.
extension APIResponder {
    /// The default and the largest page of `GET /devices`.
    static let defaultPageSize = 100
    static let maximumPageSize = 1000

    /// `GET /devices?offset=&limit=&group=&status=`: one page of ACL entries with presence,
    /// ordered by UID, `total` counting every match.
    func listDevices(query: FlatDictionary<Substring, Substring>) async throws(APIError) -> Response {
        let offset = try Self.integer(query["offset"], name: "offset", default: 0, range: 0...Int.max)
        let limit = try Self.integer(query["limit"], name: "limit", default: Self.defaultPageSize, range: 1...Self.maximumPageSize)
        let group = query["group"].map(String.init)
        var status: DeviceStatus?
        if let text = query["status"] {
            guard let value = DeviceStatus(rawValue: String(text)) else {
                let names = DeviceStatus.allCases.map(\.rawValue).joined(separator: ", ")
                throw .badRequest("status \"\(text)\" is unknown, expected one of \(names)", field: "status")
            }
            status = value
        }
        let now = WallClock.milliseconds()
        let page: [DevicePresence]
        let total: Int
        do {
            var entries = try await self.environment.directory.entries()
            if let group {
                entries.removeAll { $0.group.string != group }
            }
            let elements = entries.map { (uid: $0.uid, group: Optional($0.group)) }
            if let status {
                // Presence decides the match, so read it for every candidate before paging.
                let matching = try await self.environment.directory.presence(of: elements).filter { $0.status == status }
                total = matching.count
                page = Array(matching.dropFirst(offset).prefix(limit))
            } else {
                total = elements.count
                page = try await self.environment.directory.presence(of: Array(elements.dropFirst(offset).prefix(limit)))
            }
        } catch {
            throw Self.redisFailure(error)
        }
        let items = page.map { $0.json(now: now, keepSessionMilliseconds: self.environment.keepSessionMilliseconds) }
        return .json(["total": JSONValue(total), "offset": JSONValue(offset), "limit": JSONValue(limit), "items": .array(items)])
    }

    /// `GET /devices/{uid}`: 404 unless the UID is in the ACL.
    func device(_ uid: UID) async throws(APIError) -> Response {
        .json(try await self.presence(of: uid).json(now: WallClock.milliseconds(), keepSessionMilliseconds: self.environment.keepSessionMilliseconds))
    }

    /// `PUT /devices/{uid}` with `{"GroupName", "AuthKey"}`: adds or changes one ACL entry
    /// through the router, then answers the device as `GET` would.
    func putDevice(_ uid: UID, body: JSONValue) async throws(APIError) -> Response {
        guard case .object = body else {
            throw .badRequest("the body is \(body.kindDescription), expected an object with GroupName and AuthKey", field: "body")
        }
        let group = try ACLDocument.group(body["GroupName"], field: "GroupName")
        let key = try ACLDocument.key(body["AuthKey"], field: "AuthKey")
        try await self.environment.exchange.applyACL(.put(ACLEntry(group: group, uid: uid, key: key)), timeout: self.environment.aclTimeout)
        self.environment.logger.info("ACL entry set over HTTP", metadata: ["uid": "\(uid)", "group": "\(group)"])
        return try await self.device(uid)
    }

    /// `DELETE /devices/{uid}`: removes the ACL entry through the router (which closes the
    /// device's session); 204, or 404 when the UID is not in the ACL.
    func deleteDevice(_ uid: UID) async throws(APIError) -> Response {
        _ = try await self.presence(of: uid)
        try await self.environment.exchange.applyACL(.remove(uid), timeout: self.environment.aclTimeout)
        self.environment.logger.info("ACL entry removed over HTTP", metadata: ["uid": "\(uid)"])
        return .empty(status: .noContent)
    }

    /// `GET /applications`: each webhook application (the configured request and telemetry
    /// URLs) with the status webhook-dispatcher keeps in Redis.
    func applications() async throws(APIError) -> Response {
        let statuses: [ApplicationStatus]
        do {
            let directory = self.environment.directory
            statuses = try await ApplicationStatusStore(redis: directory.redis, keys: directory.keys).statuses()
        } catch {
            throw Self.redisFailure(error)
        }
        let now = WallClock.milliseconds()
        return .json(.array(statuses.map { $0.jsonValue(atMilliseconds: now) }))
    }

    /// `GET /sessions/central`: whether the central holds a TCP session, where and since when.
    func centralSession() async throws(APIError) -> Response {
        let presence: DevicePresence
        do {
            presence = try await self.environment.directory.presence(of: [(uid: .central, group: nil)])[0]
        } catch {
            throw Self.redisFailure(error)
        }
        let json = presence.json(now: WallClock.milliseconds(), keepSessionMilliseconds: self.environment.keepSessionMilliseconds)
        let kept: Set<String> = ["status", "gateway", "connectionId", "connectedSince", "remoteAddress", "keptUntil", "lastSeen"]
        let members = (json.objectMembers ?? []).filter { kept.contains($0.key) }.map { ($0.key, $0.value) }
        return .json(JSONValue(object: [("connected", .bool(presence.status == .online))] + members))
    }

    /// The ACL entry and presence of `uid`.
    /// - Throws: `APIError` 404 when the UID is not in the ACL, 500 when Redis fails.
    private func presence(of uid: UID) async throws(APIError) -> DevicePresence {
        let found: DevicePresence?
        do {
            if let entry = try await self.environment.directory.entry(uid) {
                found = try await self.environment.directory.presence(of: [(uid: uid, group: entry.group)]).first
            } else {
                found = nil
            }
        } catch {
            throw Self.redisFailure(error)
        }
        guard let found else { throw .notFound("UID \"\(uid.string)\" is not in the ACL") }
        return found
    }

    private static func integer(_ text: Substring?, name: String, default value: Int, range: ClosedRange<Int>) throws(APIError) -> Int {
        guard let text else { return value }
        // Digits beyond Int.max are still a valid non-negative integer: an offset that large
        // is past the end (an empty page), not a malformed request.
        let number = Int(text) ?? (!text.isEmpty && text.allSatisfy(\.isASCIIDigitCharacter) ? Int.max : nil)
        guard let number, range.contains(number) else {
            let bounds = range.upperBound == Int.max ? "an integer ≥ \(range.lowerBound)" : "an integer \(range.lowerBound)–\(range.upperBound)"
            throw .badRequest("\(name) is \"\(text)\", expected \(bounds)", field: name)
        }
        return number
    }

    private static func redisFailure(_ error: any Error) -> APIError {
        .internalFailure("the state store (Redis) failed: \(error)")
    }
}

extension Character {
    /// 0-9 only (`isNumber` also accepts other scripts' digits and fractions).
    fileprivate var isASCIIDigitCharacter: Bool { ("0"..."9").contains(self) }
}
