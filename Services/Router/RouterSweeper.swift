import IoTSocket
import Logging
import Messaging
import RedisBus
import ServiceKit
import ServiceLifecycle

/// The router's clock-driven work, run by every router instance: each step claims its entries
/// atomically in Redis, so exactly one instance answers each.
///
/// - every 100 ms: requests past their deadline are answered 0xA1 (so a silent device's
///   requester hears within its timeout + 0.1 s);
/// - every 500 ms: kept sessions whose keep delay ended are dropped; their held requests are
///   answered 0xA0 and held responses dropped (PROTOCOL.md decision);
/// - every second: telemetry tokens due for renewal are replaced (online elements only);
/// - every 2 s: gateways that stopped heartbeating for 10 s are declared dead and their
///   sessions kept, as after any unexpected disconnect.
struct RouterSweeper: Service {
    let runtime: ServiceRuntime
    let router: MessageRouter
    let pipeline: CallPipeline
    /// A gateway missing heartbeats this long is considered crashed.
    var deadGatewayAfterMilliseconds = 10_000

    private var keys: KeySpace { self.router.settings.keys }

    func run() async throws {
        var tick = 0
        var lastFailureLog = ContinuousClock.now - .seconds(60)
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await Task.sleep(for: .milliseconds(100))
            let now = WallClock.milliseconds()
            do {
                try await self.expireRequests(now: now)
                if tick % 5 == 0 { try await self.expireKeptSessions(now: now) }
                if tick % 10 == 0 { try await self.renewTokens(now: now) }
                if tick % 20 == 0 { try await self.sweepDeadGateways(now: now) }
            } catch {
                if ContinuousClock.now - lastFailureLog > .seconds(10) {
                    self.runtime.logger.warning("sweep failed; retrying", metadata: ["error": "\(error)"])
                    lastFailureLog = ContinuousClock.now
                }
            }
            tick += 1
        }
    }

    func expireRequests(now: Int) async throws {
        let keys = self.keys
        let reply = try await self.runtime.redis.evalsha(
            RouterScripts.claimExpiredRequests, keys: [keys.requestDeadlines], arguments: [.integer(now), 512, .string(keys.prefix)])
        var calls: [PlannedCall] = []
        for item in reply.array ?? [] {
            guard let fields = item.array, fields.count == 5, let member = InFlightMember(text: fields[0].string ?? ""),
                let origin = RequestOrigin(field: fields[1].string ?? "", replyStream: fields[2].string ?? "", correlation: fields[3].string ?? "")
            else { continue }
            self.router.metrics.timeouts.increment()
            self.runtime.logger.debug("request timed out", metadata: ["member": "\(member.text)", "origin": "\(origin.field)"])
            // A request webhook without a valid answer in time is answered 0x01 (PROTOCOL.md).
            let code: ResponseCode = fields[4].string == "webhook" ? .notValid : .timeout
            calls += self.router.answer(origin, member: member, code: code)
        }
        try await self.pipeline.execute(calls).get()
    }

    func expireKeptSessions(now: Int) async throws {
        let keys = self.keys
        let reply = try await self.runtime.redis.evalsha(
            RouterScripts.expireKeptSessions, keys: [keys.keptDeadlines], arguments: [.integer(now), 256, .string(keys.prefix)])
        var calls: [PlannedCall] = []
        for item in reply.array ?? [] {
            guard let fields = item.array, let uid = fields.first.flatMap({ $0.string }).flatMap({ try? UID(hex: $0) }) else { continue }
            let gateway = fields.dropFirst().first?.string ?? ""
            let held = fields.dropFirst(2).compactMap(\.bytes)
            self.router.metrics.keptExpired.increment()
            self.runtime.logger.info("kept session expired", metadata: ["uid": "\(uid)", "gw": "\(gateway)", "held": "\(held.count)"])
            calls.append(self.router.event(.expired, uid, gateway: gateway, now: now, detail: "\(held.count) held"))
            calls += self.router.answerHeld(held, heldFor: uid)
        }
        try await self.pipeline.execute(calls).get()
    }

    func renewTokens(now: Int) async throws {
        let keys = self.keys
        let reply = try await self.runtime.redis.evalsha(
            RouterScripts.claimRenewals, keys: [keys.tokenRenewals], arguments: [.integer(now), 512, .string(keys.prefix)])
        let uids = (reply.array ?? []).compactMap { $0.string.flatMap { try? UID(hex: $0) } }
        guard !uids.isEmpty else { return }
        let records = try await self.runtime.redis.pipeline(uids.map { ["HGET", .string(keys.acl), .string($0.hex)] })
        var calls: [PlannedCall] = []
        for (uid, record) in zip(uids, records) {
            guard let bytes = record.bytes, let entry = ACLRecord.decode(uid: uid, bytes: bytes),
                let group = self.router.settings.groups[entry.group.string], group.telemetry
            else { continue }
            calls.append(self.router.issueToken(to: uid, group: group, now: now))
        }
        try await self.pipeline.execute(calls).get()
    }

    func sweepDeadGateways(now: Int) async throws {
        let keys = self.keys
        let keep = self.router.settings.keepSessionMilliseconds > 0
        let reply = try await self.runtime.redis.evalsha(
            RouterScripts.sweepDeadGateways, keys: [keys.gateways, keys.keptDeadlines],
            arguments: [
                .integer(now - self.deadGatewayAfterMilliseconds), .string(keys.prefix),
                .integer(now + self.router.settings.keepSessionMilliseconds), .string(keep ? "1" : "0"),
            ])
        var calls: [PlannedCall] = []
        for item in reply.array ?? [] {
            guard let fields = item.array, let gateway = fields.first?.string else { continue }
            let uids = fields.dropFirst().compactMap { $0.string.flatMap { try? UID(hex: $0) } }
            self.router.metrics.deadGateways.increment()
            self.runtime.logger.warning("gateway stopped heartbeating; its sessions are kept", metadata: ["gw": "\(gateway)", "sessions": "\(uids.count)"])
            calls += uids.map { self.router.event(keep ? .kept : .offline, $0, gateway: gateway, now: now, detail: "gateway lost") }
        }
        try await self.pipeline.execute(calls).get()
    }
}
