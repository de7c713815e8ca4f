import IoTSocket
import Logging
import Messaging
import NIOCore
import RedisBus
import ServiceKit

/// Decides, for each message of the router stream, the Redis steps that route it.
///
/// Planning is pure: it returns `PlannedCall`s (scripts whose replies may plan more calls) and
/// performs no I/O, so a whole batch goes to Redis in one pipelined write, in order.
/// Routing rules (PROTOCOL.md): an object's Request goes to the central with the object's UID
/// added; the central's Request goes to the object named by its UID, with the UID removed;
/// Responses go back to whoever the in-flight entry says is waiting. Whatever cannot be
/// delivered is answered by the concentrator with an empty binary payload.
struct MessageRouter: Sendable {
    let settings: RouterSettings
    let metrics: RouterMetrics
    let logger: Logger

    private var keys: KeySpace { self.settings.keys }

    /// The calls that route `message`, received at `now` (Unix ms).
    func plan(_ message: RouterMessage, now: Int) -> [PlannedCall] {
        switch message {
        case .sessionOpened(let opened):
            return self.planOpen(opened, now: now)
        case .sessionClosed(let closed):
            return self.planClose(closed, now: now)
        case .call(let call):
            return [self.planCall(call, now: now)]
        case .aclUpdate:
            // Applied by RouterService itself: it must not be reordered with routing steps.
            return []
        case .webhookAnswer(let answer):
            let member = InFlightMember(.towardCentral, object: answer.uid, tracking: answer.tracking)
            return [self.response(member, code: answer.code, payload: answer.payload)]
        case .returned(let address, let frame):
            return [self.redeliver(frame, returnedFrom: address)]
        case .transmission(let address, let frame):
            var buffer = ByteBuffer(bytes: frame)
            do {
                guard let transmission = try Transmission.read(from: &buffer), buffer.readableBytes == 0 else {
                    throw IoTSocketError.transmissionTooLong(length: frame.count, maximum: frame.count)
                }
                return address.uid.isCentral
                    ? self.planFromCentral(transmission, now: now)
                    : self.planFromObject(address.uid, transmission, now: now)
            } catch {
                self.metrics.malformed.increment()
                self.logger.error(
                    "undecodable frame from a gateway", metadata: ["uid": "\(address.uid)", "gw": "\(address.gateway)", "error": "\(error)"])
                return []
            }
        }
    }

    // MARK: Sessions

    private func planOpen(_ opened: RouterMessage.SessionOpened, now: Int) -> [PlannedCall] {
        let address = opened.address
        let uid = address.uid
        let keys = self.keys
        let arguments: [RedisArgument] = [
            .string(uid.hex), .string(address.gateway), .string(address.connection), .integer(now),
            .string(opened.remoteAddress), .string(opened.maxTransmissionLength.map(String.init) ?? ""), .string(keys.prefix),
            .integer(self.settings.streamMaxLength), .integer(self.settings.requestTimeoutMilliseconds),
            .string(uid.isCentral ? "1" : "0"), .string(opened.aclKeyFingerprint ?? ""),
        ]
        return [
            .script(
                RouterScripts.openSession,
                keys: [
                    keys.session(uid), keys.held(uid), keys.keptDeadlines, keys.acl, keys.requestDeadlines,
                    keys.gatewaySessions(address.gateway), keys.lastSeen,
                ],
                arguments: arguments
            ) { reply in
                if reply.array?.first?.string == "stale" {
                    self.metrics.sessionsRefusedStaleACL.increment()
                    self.logger.warning(
                        "login refused: the gateway checked it against an ACL key the ACL no longer holds (entry changed or removed since the gateway cached it); connection told to close",
                        metadata: ["uid": "\(uid)", "gw": "\(address.gateway)", "conn": "\(address.connection)", "remote": "\(opened.remoteAddress)"])
                    return [self.event(.authRefused, uid, gateway: address.gateway, now: now, detail: "ACL entry changed or removed")]
                }
                guard let items = reply.array, items.count == 7 else { return [] }
                self.metrics.sessionsOpened.increment()
                let replayed = items[2].int ?? 0
                let resumed = items[1].int == 1
                self.logger.info(
                    "session online",
                    metadata: [
                        "uid": "\(uid)", "gw": "\(address.gateway)", "conn": "\(address.connection)",
                        "remote": "\(opened.remoteAddress)", "resumed": "\(resumed)", "replayed": "\(replayed)",
                    ])
                var calls = [
                    self.event(.online, uid, gateway: address.gateway, now: now, detail: resumed ? "resumed; \(replayed) held replayed" : "")
                ]
                let tooLong = items[6].array?.compactMap(\.bytes) ?? []
                if !tooLong.isEmpty {
                    self.logger.warning(
                        "held frames longer than the new connection accepts not replayed: requests answered 0xA0, responses replaced by 0x01",
                        metadata: ["uid": "\(uid)", "frames": "\(tooLong.count)", "max": "\(opened.maxTransmissionLength.map(String.init) ?? "")"])
                    calls += self.answerHeld(tooLong, heldFor: uid, answerResponsesNotValid: true)
                }
                if items[0].int == 1 {
                    self.metrics.sessionsReplaced.increment()
                    let older = "\(items[4].string ?? "")/\(items[5].string ?? "")"
                    calls.append(self.event(.replaced, uid, gateway: address.gateway, now: now, detail: "older connection \(older) closed"))
                }
                if !uid.isCentral, let group = self.settings.group(wireBytes: items[3].bytes ?? []), group.telemetry {
                    calls.append(self.issueToken(to: uid, group: group, now: now))
                }
                return calls
            }
        ]
    }

    private func planClose(_ closed: RouterMessage.SessionClosed, now: Int) -> [PlannedCall] {
        let address = closed.address
        let uid = address.uid
        let keep = closed.keepsSession && self.settings.keepSessionMilliseconds > 0
        let keys = self.keys
        let reason = closed.code.map { "close \($0)" } ?? "connection lost"
        return [
            .script(
                RouterScripts.closeSession,
                keys: [
                    keys.session(uid), keys.keptDeadlines, keys.gatewaySessions(address.gateway), keys.held(uid),
                    keys.deviceToken(uid), keys.tokenRenewals, keys.lastSeen,
                ],
                arguments: [
                    .string(uid.hex), .string(address.gateway), .string(address.connection), .string(keep ? "1" : "0"),
                    .integer(now + self.settings.keepSessionMilliseconds), .string(keys.prefix), .integer(now),
                ]
            ) { reply in
                let metadata: Logger.Metadata = ["uid": "\(uid)", "gw": "\(address.gateway)", "reason": "\(reason)"]
                switch reply.string {
                case "kept":
                    self.metrics.sessionsKept.increment()
                    self.logger.info("session kept", metadata: metadata)
                    return [self.event(.kept, uid, gateway: address.gateway, now: now, detail: reason)]
                case "dropped":
                    self.metrics.sessionsDropped.increment()
                    self.logger.info("session closed", metadata: metadata)
                    return [self.event(.offline, uid, gateway: address.gateway, now: now, detail: reason)]
                default:
                    self.logger.debug("close of a replaced connection", metadata: metadata)
                    return []
                }
            }
        ]
    }

    // MARK: Transmissions

    private func planFromObject(_ object: UID, _ transmission: Transmission, now: Int) -> [PlannedCall] {
        switch transmission {
        case .request(nil, let tracking, let payload):
            let member = InFlightMember(.towardCentral, object: object, tracking: tracking)
            let toCentral = Self.frame(.request(uid: object, tracking: tracking, payload: payload))
            // With a request webhook, a kept central is "no central session" too: nothing is held.
            let holdLimit = self.settings.requestWebhook ? 0 : self.settings.maxHeldPerElement
            return [self.request(member, to: .central, frame: toCentral, origin: .object, now: now, holdLimit: holdLimit) { [self] in
                // No central session: the request webhook, when configured, answers instead.
                self.settings.requestWebhook ? [self.webhookRequest(member, payload: payload, now: now)] : nil
            }]
        case .response(nil, let tracking, let code, let payload):
            return [self.response(InFlightMember(.towardObject, object: object, tracking: tracking), code: code, payload: payload)]
        default:
            self.metrics.malformed.increment()
            self.logger.warning("transmission an object may not send", metadata: ["uid": "\(object)", "type": "\(transmission.type)"])
            return []
        }
    }

    private func planFromCentral(_ transmission: Transmission, now: Int) -> [PlannedCall] {
        switch transmission {
        case .request(let uid?, let tracking, let payload) where !uid.isCentral:
            let member = InFlightMember(.towardObject, object: uid, tracking: tracking)
            let toObject = Self.frame(.request(uid: nil, tracking: tracking, payload: payload))
            return [self.request(member, to: uid, frame: toObject, origin: .central, now: now)]
        case .request(let uid, let tracking, _):
            // No object named: the request can never be delivered. The answer names what the
            // request named (the empty UID, or nothing), so the central can match it.
            self.metrics.requestsRefused.increment()
            let answer = Self.frame(.response(uid: uid, tracking: tracking, code: .destinationNotFound, payload: .empty))
            return [self.deliver(answer, to: .central)]
        case .response(let uid?, let tracking, let code, let payload) where !uid.isCentral:
            return [self.response(InFlightMember(.towardCentral, object: uid, tracking: tracking), code: code, payload: payload)]
        default:
            self.metrics.malformed.increment()
            self.logger.warning("transmission from the central without a destination", metadata: ["type": "\(transmission.type)"])
            return []
        }
    }

    /// Registers and delivers a request; refusals are answered to `origin` at once, unless
    /// `whenAbsent` offers another way (the request webhook) for a destination with no session.
    func request(
        _ member: InFlightMember, to destination: UID, frame: [UInt8], origin: RequestOrigin, now: Int, holdLimit: Int? = nil,
        whenAbsent: @escaping @Sendable () -> [PlannedCall]? = { nil }
    ) -> PlannedCall {
        let keys = self.keys
        var replyStream = ""
        var correlation = ""
        if case .api(let stream, let id) = origin {
            replyStream = stream
            correlation = id
        }
        return .script(
            RouterScripts.request,
            keys: [keys.inFlight(member.text), keys.session(destination), keys.held(destination), keys.requestDeadlines],
            arguments: [
                .string(keys.prefix), .integer(self.settings.streamMaxLength), .integer(holdLimit ?? self.settings.maxHeldPerElement),
                .bytes(frame), .string(member.text), .integer(now + self.settings.requestTimeoutMilliseconds), .string(origin.field),
                .string(replyStream), .string(correlation), .integer(self.settings.inFlightSafetyMilliseconds),
            ]
        ) { reply in
            if reply.string == "absent" || reply.string == "full", let alternative = whenAbsent() {
                return alternative
            }
            return self.requestOutcome(reply.string, origin: origin, member: member)
        }
    }

    /// Counts what became of a request and answers its origin when it could not be sent:
    /// 0xA2 for a tracking number already in progress, 0xA0 when it cannot be delivered.
    private func requestOutcome(_ outcome: String?, origin: RequestOrigin, member: InFlightMember) -> [PlannedCall] {
        switch outcome {
        case "sent":
            self.metrics.requestsSent.increment()
            return []
        case "held":
            self.metrics.requestsHeld.increment()
            return []
        case "busy":
            self.metrics.requestsBusy.increment()
            return self.answer(origin, member: member, code: .trackingInProgress)
        default:
            self.metrics.requestsRefused.increment()
            self.logger.debug("request not deliverable", metadata: ["member": "\(member.text)", "outcome": "\(outcome ?? "?")"])
            return self.answer(origin, member: member, code: .destinationNotFound)
        }
    }

    /// Queues an object's request for the request webhook; the router's deadline is the
    /// webhook's plus a second, so the dispatcher's own 0x01 normally comes first.
    private func webhookRequest(_ member: InFlightMember, payload: PayloadBlock, now: Int) -> PlannedCall {
        let keys = self.keys
        let jobDeadline = now + self.settings.webhookWaitMilliseconds
        return .script(
            RouterScripts.webhookRequest,
            keys: [keys.inFlight(member.text), keys.requestDeadlines, keys.webhookRequests],
            arguments: [
                .string(member.text), .integer(jobDeadline + 1000), .integer(self.settings.inFlightSafetyMilliseconds),
                .string(member.object.hex), .integer(Int(member.tracking)), .bytes(PayloadBlock.wireBytes(payload)),
                .integer(jobDeadline), .integer(self.settings.streamMaxLength),
            ]
        ) { reply in
            if reply.string == "busy" {
                self.metrics.requestsBusy.increment()
                return self.answer(.object, member: member, code: .trackingInProgress)
            }
            self.metrics.requestsToWebhook.increment()
            return []
        }
    }

    /// An HTTP call: the request goes to the object under a tracking number the router picks.
    private func planCall(_ call: APICall, now: Int) -> PlannedCall {
        let keys = self.keys
        let uid = call.uid
        let origin = RequestOrigin.api(replyStream: call.replyStream, correlation: call.correlation)
        return .script(
            RouterScripts.call,
            keys: [keys.trackingCounter(uid), keys.session(uid), keys.held(uid), keys.requestDeadlines],
            arguments: [
                .string(keys.prefix), .integer(self.settings.streamMaxLength), .integer(self.settings.maxHeldPerElement),
                .bytes(PayloadBlock.wireBytes(call.payload)), .string(uid.hex), .integer(call.deadlineMilliseconds),
                .string(call.replyStream), .string(call.correlation), .integer(self.settings.inFlightSafetyMilliseconds),
            ]
        ) { reply in
            let outcome = reply.array?.first?.string
            let member = InFlightMember(.towardObject, object: uid, tracking: UInt16(clamping: max(0, reply.array?.last?.int ?? 0)))
            return self.requestOutcome(outcome, origin: origin, member: member)
        }
    }

    /// Completes the request in flight named by `member` with a response.
    private func response(_ member: InFlightMember, code: ResponseCode, payload: PayloadBlock) -> PlannedCall {
        let keys = self.keys
        let forObject = Self.frame(.response(uid: nil, tracking: member.tracking, code: code, payload: payload))
        let forCentral = Self.frame(.response(uid: member.object, tracking: member.tracking, code: code, payload: payload))
        return .script(
            RouterScripts.response,
            keys: [
                keys.inFlight(member.text), keys.requestDeadlines, keys.session(member.object), keys.held(member.object),
                keys.session(.central), keys.held(.central),
            ],
            arguments: [
                .string(keys.prefix), .integer(self.settings.streamMaxLength), .integer(self.settings.maxHeldPerElement),
                .string(member.text), .bytes(forObject), .bytes(forCentral), .integer(Int(code.rawValue)),
                .bytes(Self.blockBytes(payload)),
            ]
        ) { reply in
            switch reply.array?.first?.string {
            case "late":
                self.metrics.responsesLate.increment()
                self.logger.debug("response with nothing waiting (late or unknown)", metadata: ["member": "\(member.text)"])
            case "sent", "held":
                self.metrics.responsesDelivered.increment()
            case "toolong":
                // Rare: the 0x01 answer is built here, not on every response's way in.
                self.metrics.responsesTooLong.increment()
                let requester: RequestOrigin = reply.array?.last?.string == "central" ? .central : .object
                self.logger.info(
                    "response longer than its requester accepts answered 0x01 instead",
                    metadata: ["member": "\(member.text)", "requester": "\(requester.field)", "payloadBytes": "\(payload.data.count)"])
                return self.answer(requester, member: member, code: .notValid)
            default:
                self.metrics.responsesUndeliverable.increment()
            }
            return []
        }
    }

    /// The concentrator's own answer (`code`, empty binary payload) to whoever waits on `member`.
    func answer(_ origin: RequestOrigin, member: InFlightMember, code: ResponseCode) -> [PlannedCall] {
        switch origin {
        case .central:
            return [self.deliver(Self.frame(.response(uid: member.object, tracking: member.tracking, code: code, payload: .empty)), to: .central)]
        case .object:
            return [self.deliver(Self.frame(.response(uid: nil, tracking: member.tracking, code: code, payload: .empty)), to: member.object)]
        case .api(let stream, let correlation):
            return [
                PlannedCall([
                    "XADD", .string(stream), "MAXLEN", "~", .integer(self.settings.streamMaxLength), "*", "id", .string(correlation),
                    "code", .integer(Int(code.rawValue)), "p", .bytes(Self.blockBytes(.empty)),
                ])
            ]
        }
    }

    /// Delivers one frame to an element (held while it is kept); undeliverable frames are counted.
    func deliver(_ frame: [UInt8], to uid: UID) -> PlannedCall {
        .script(
            RouterScripts.deliver,
            keys: [self.keys.session(uid), self.keys.held(uid)],
            arguments: [
                .string(self.keys.prefix), .integer(self.settings.streamMaxLength), .integer(self.settings.maxHeldPerElement), .bytes(frame),
            ]
        ) { reply in
            if reply.string != "sent" && reply.string != "held" {
                self.metrics.responsesUndeliverable.increment()
            }
            return []
        }
    }

    /// A frame a gateway returned: held for the kept session, or sent to the element's new
    /// connection (PROTOCOL.md: what is meant for a kept element is held and replayed).
    /// Otherwise it is dropped and counted; a request among those is answered at its deadline.
    func redeliver(_ frame: [UInt8], returnedFrom address: RouterMessage.ConnectionAddress) -> PlannedCall {
        .script(
            RouterScripts.redeliver,
            keys: [self.keys.session(address.uid), self.keys.held(address.uid)],
            arguments: [
                .string(self.keys.prefix), .integer(self.settings.streamMaxLength), .integer(self.settings.maxHeldPerElement), .bytes(frame),
                .string(address.gateway), .string(address.connection),
            ]
        ) { reply in
            let outcome = reply.string ?? "absent"
            self.metrics.returnedFrames[outcome]?.increment()
            self.logger.debug(
                "frame returned by a gateway (its connection had closed)",
                metadata: ["uid": "\(address.uid)", "gw": "\(address.gateway)", "conn": "\(address.connection)", "outcome": "\(outcome)"])
            return []
        }
    }

    // MARK: Telemetry tokens

    /// Issues a fresh token to `uid` and sends it (ToT 0x5); renewal is scheduled at 80 % of
    /// the lifetime so the device always holds a live token.
    func issueToken(to uid: UID, group: GroupConfiguration, now: Int, attempt: Int = 1) -> PlannedCall {
        let token = TelemetryToken.random()
        let lifetime = group.telemetryTokenLifetimeMinutes * 60_000
        let renewAt = lifetime > 0 ? String(now + lifetime * 8 / 10) : ""
        let keys = self.keys
        return .script(
            RouterScripts.issueToken,
            keys: [keys.telemetryToken(token.hex), keys.deviceToken(uid), keys.tokenRenewals, keys.session(uid), keys.held(uid)],
            arguments: [
                .string(uid.hex), .string(token.hex), .integer(lifetime), .string(renewAt), .string(keys.prefix),
                .integer(self.settings.streamMaxLength), .integer(self.settings.maxHeldPerElement),
                .bytes(Self.frame(.telemetryToken(token))),
            ]
        ) { reply in
            switch reply.string {
            case "collision":
                return attempt < 4 ? [self.issueToken(to: uid, group: group, now: now, attempt: attempt + 1)] : []
            case "absent":
                return []  // the session ended first: no token for it
            default:
                self.metrics.tokensIssued.increment()
            }
            return []
        }
    }

    // MARK: Held frames and events

    /// Answers the requests among frames that were held for `uid` and will never be delivered
    /// with 0xA0. Held responses are dropped when `uid` is gone (keep delay over, or it left the
    /// ACL); when it is back but they are too long for its new connection
    /// (`answerResponsesNotValid`), it gets 0x01 (empty payload) instead of each, as when a
    /// response is too long for it online.
    func answerHeld(_ frames: [[UInt8]], heldFor uid: UID, answerResponsesNotValid: Bool = false) -> [PlannedCall] {
        var calls: [PlannedCall] = []
        for frame in frames {
            var buffer = ByteBuffer(bytes: frame)
            guard let transmission = try? Transmission.read(from: &buffer) else { continue }
            let member: InFlightMember
            switch transmission {
            case .request(let object?, let tracking, _) where uid.isCentral:
                member = InFlightMember(.towardCentral, object: object, tracking: tracking)
            case .request(nil, let tracking, _):
                member = InFlightMember(.towardObject, object: uid, tracking: tracking)
            case .response(let object, let tracking, _, _) where answerResponsesNotValid:
                self.metrics.responsesTooLong.increment()
                calls.append(self.deliver(Self.frame(.response(uid: object, tracking: tracking, code: .notValid, payload: .empty)), to: uid))
                continue
            default:
                self.metrics.heldResponsesDropped.increment()
                continue
            }
            calls.append(
                .script(
                    RouterScripts.claimRequest, keys: [self.keys.inFlight(member.text), self.keys.requestDeadlines],
                    arguments: [.string(member.text)]
                ) { reply in
                    guard let items = reply.array, items.count == 3,
                        let origin = RequestOrigin(
                            field: items[0].string ?? "", replyStream: items[1].string ?? "", correlation: items[2].string ?? "")
                    else { return [] }
                    self.metrics.requestsRefused.increment()
                    return self.answer(origin, member: member, code: .destinationNotFound)
                })
        }
        return calls
    }

    /// A lifecycle event for integrators on the events stream.
    func event(_ kind: LifecycleEvent.Kind, _ uid: UID, gateway: String, now: Int, detail: String = "") -> PlannedCall {
        let event = LifecycleEvent(kind: kind, uid: uid, gateway: gateway, atMilliseconds: now, detail: detail)
        var command: [RedisArgument] = [
            "XADD", .string(self.keys.eventsStream), "MAXLEN", "~", .integer(self.settings.streamMaxLength), "*",
        ]
        for field in event.fields {
            command.append(.string(field.name))
            command.append(field.value)
        }
        return PlannedCall(command)
    }

    // MARK: Wire helpers

    static func frame(_ transmission: Transmission) -> [UInt8] {
        var buffer = ByteBuffer()
        transmission.write(to: &buffer)
        return Array(buffer.readableBytesView)
    }

    static func blockBytes(_ payload: PayloadBlock) -> [UInt8] {
        var buffer = ByteBuffer()
        payload.write(to: &buffer)
        return Array(buffer.readableBytesView)
    }
}
