import Crypto
import IoTSocket
import Logging
import Messaging
import ServiceKit

/// The operator actions on the dispatcher's admin endpoint, all behind the central's Bearer key:
///
/// - `GET /applications`: every configured application's status record (JSON array);
/// - `POST /applications/{name}/disable`: stop sending (request webhooks are answered 0x01,
///   telemetry goes to the dead-letter stream with reason `application disabled`);
/// - `POST /applications/{name}/enable`: send again;
/// - `POST /applications/{name}/replay`: move the dead-lettered telemetry back to the retry
///   set, due now (refused with 409 while the application is disabled).
///
/// Other instances see enable/disable within a second (their ``ApplicationMonitor``).
struct ApplicationAdminRoutes: Sendable {
    let authorization: String
    let trackers: [WebhookApplication: ApplicationTracker]
    let endpoints: [WebhookApplication: WebhookEndpoint]
    let statusStore: ApplicationStatusStore
    let retryStore: TelemetryRetryStore
    let logger: Logger

    var routes: [AdminRoute] {
        [
            AdminRoute(.get, "/applications") { request in
                await self.authorized(request) { await self.list() }
            },
            AdminRoute(.post, "/applications/:name/disable") { request in
                await self.authorized(request) { await self.setDisabled(true, request) }
            },
            AdminRoute(.post, "/applications/:name/enable") { request in
                await self.authorized(request) { await self.setDisabled(false, request) }
            },
            AdminRoute(.post, "/applications/:name/replay") { request in
                await self.authorized(request) { await self.replay(request) }
            },
        ]
    }

    private func authorized(_ request: AdminRoute.Request, _ action: () async -> AdminRoute.Response) async -> AdminRoute.Response {
        // Constant time: the comparison must not tell how much of a guess was right.
        let given = Array((request.authorization ?? "").lowercased().utf8)
        let expected = Array(self.authorization.lowercased().utf8)
        let matches = given.count == expected.count && zip(given, expected).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
        guard matches else { return Self.json(401, ["Error": "a valid Bearer key is required"]) }
        return await action()
    }

    private func list() async -> AdminRoute.Response {
        do {
            let now = WallClock.milliseconds()
            let statuses = try await self.statusStore.statuses()
            return AdminRoute.Response(status: 200, body: JSONValue.array(statuses.map { $0.jsonValue(atMilliseconds: now) }).serialized())
        } catch {
            return Self.json(503, ["Error": .string("Redis: \(error)")])
        }
    }

    private func setDisabled(_ disabled: Bool, _ request: AdminRoute.Request) async -> AdminRoute.Response {
        guard let (application, tracker) = self.application(request) else { return Self.notFound(request) }
        do {
            let now = WallClock.milliseconds()
            guard try await self.statusStore.setDisabled(disabled, application, nowMilliseconds: now) else {
                return Self.json(503, ["Error": "application not registered yet"])
            }
            tracker.setDisabled(disabled)
            self.logger.notice("webhook application \(disabled ? "disabled" : "enabled") by an operator", metadata: ["application": "\(application)"])
            guard let status = try await self.statusStore.status(of: application) else { return Self.json(200, [:]) }
            self.endpoints[application]?.metrics.record(state: status.state(atMilliseconds: now))
            return AdminRoute.Response(status: 200, body: status.jsonValue(atMilliseconds: now).serialized())
        } catch {
            return Self.json(503, ["Error": .string("Redis: \(error)")])
        }
    }

    private func replay(_ request: AdminRoute.Request) async -> AdminRoute.Response {
        guard let (application, tracker) = self.application(request) else { return Self.notFound(request) }
        guard !tracker.isDisabled else { return Self.json(409, ["Error": "application disabled: enable it before replaying"]) }
        guard application == .telemetry else { return Self.json(200, ["Replayed": 0]) }
        do {
            let count = try await self.retryStore.replayDeadLetters(nowMilliseconds: WallClock.milliseconds())
            try await self.statusStore.recordReplay(count, for: application)
            self.endpoints[application]?.metrics.replayed.increment(by: Int64(count))
            self.logger.notice("dead-lettered telemetry replayed by an operator", metadata: ["count": "\(count)"])
            return Self.json(200, ["Replayed": JSONValue(count)])
        } catch {
            return Self.json(503, ["Error": .string("Redis: \(error)")])
        }
    }

    private func application(_ request: AdminRoute.Request) -> (WebhookApplication, ApplicationTracker)? {
        guard let name = request.parameters["name"], let application = WebhookApplication(rawValue: name),
            let tracker = self.trackers[application]
        else { return nil }
        return (application, tracker)
    }

    private static func notFound(_ request: AdminRoute.Request) -> AdminRoute.Response {
        Self.json(404, ["Error": .string("no configured application named \"\(request.parameters["name"] ?? "")\"")])
    }

    private static func json(_ status: Int, _ members: KeyValuePairs<String, JSONValue>) -> AdminRoute.Response {
        AdminRoute.Response(status: status, body: JSONValue(object: members.map { ($0.key, $0.value) }).serialized())
    }
}
