import AsyncHTTPClient
import Foundation
import IoTSocket
import NIOCore
import NIOPosix
import Synchronization
import Testing
import TestSupport

/// Issue 7's acceptance: the container stack of `compose.yaml`, scaled (3 gateways, 2 routers,
/// 2 of udp-telemetry, http-api and webhook-dispatcher) behind the edge, seen only through the
/// published ports, as devices and the central see it.
///
/// Runs only when `IOTS_COMPOSE_EDGE` names the edge's address: `make test-compose`
/// (deploy/podman/test-compose.sh) builds the images, brings the stack up, runs this suite and
/// tears the stack down. Other variables it sets:
/// - `IOTS_COMPOSE_TCP_PORT`, `IOTS_COMPOSE_UDP_PORT`, `IOTS_COMPOSE_HTTP_PORT`: the published
///   ports (default 50505, 50505, 8080);
/// - `IOTS_COMPOSE_CENTRAL_KEY`: the central's key the stack was given (`IOTS_CENTRAL_AUTHKEY`);
/// - `IOTS_COMPOSE_SINK_PORT`: where this process listens (on every interface) as the central's
///   telemetry webhook; the stack was started with
///   `IOTS_WEBHOOK_TELEMETRY_URL=http://<host as the containers see it>:<port>/telemetry`.
@Suite("compose stack: scaled containers behind the edge", .enabled(if: ComposeStack.isConfigured), .serialized)
struct ComposeStackTests {
    /// Devices logged in through the edge: enough that a balancing edge spreads them over more
    /// than one of the three gateways (all on one by chance: 3 × (1/3)⁸ ≈ 0.05 %).
    static let deviceCount = 8

    @Test("a central HTTP request through the edge reaches each device, logged in through the edge on several gateways, and gets its answer")
    func centralRequestsReachDevicesOnSeveralGateways() async throws {
        let stack = try ComposeStack.fromEnvironment()
        let run = ComposeStack.runID()
        let devices = try (0..<Self.deviceCount).map { index in
            (uid: try UID("cs-\(run)-\(index)"), key: ComposeStack.randomKey())
        }
        try await stack.replaceACL(devices.map { ($0.uid, $0.key) })

        var elements: [TestElement] = []
        do {
            for device in devices {
                elements.append(try await stack.login(device.uid, key: device.key))
            }
            try await self.exchange(stack, devices: devices, elements: elements)
        } catch {
            for element in elements { await element.close() }
            throw error
        }
        for element in elements { await element.close() }

        // Unknown to the ACL: refused at login through the edge too.
        await #expect(throws: TestElementError.self) {
            _ = try await TestElement.connect(
                host: stack.host, port: stack.tcpPort, uid: try UID("cs-\(run)-x"), key: ComposeStack.randomKey())
        }
    }

    /// Every device gets one central request through the edge and answers it; then where they landed.
    private func exchange(_ stack: ComposeStack, devices: [(uid: UID, key: AuthKey)], elements: [TestElement]) async throws {
        for device in devices {
            try await stack.waitForStatus(device.uid, "online")
        }

        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, element) in elements.enumerated() {
                // Each device answers the one request it gets with "echo:" + what it received.
                group.addTask {
                    let (tracking, payload) = try await ComposeStack.nextRequest(on: element)
                    #expect(payload.format == .ascii)
                    #expect(payload.data == Array("hello \(index)".utf8))
                    let answer = try PayloadBlock(format: .ascii, data: Array("echo:".utf8) + payload.data)
                    try await element.send(.response(uid: nil, tracking: tracking, code: .valid, payload: answer))
                }
                group.addTask {
                    let uid = devices[index].uid.string
                    let answer = try await stack.http(
                        .POST, "/request", body: #"{"UID": "\#(uid)", "Timeout": 10, "Format": "ASCII", "Payload": "hello \#(index)"}"#)
                    #expect(answer.status == 200, "\(uid): \(answer.body)")
                    let json = try JSONValue(parsing: answer.body)
                    #expect(json["Code"]?.intValue == 0, "\(uid): \(answer.body)")
                    #expect(json["Format"]?.stringValue == "ASCII", "\(uid): \(answer.body)")
                    #expect(json["Payload"]?.stringValue == "echo:hello \(index)", "\(uid): \(answer.body)")
                }
            }
            try await group.waitForAll()
        }

        // The edge spread the sessions over the scaled gateways, and the routers found each one.
        var gateways: Set<String> = []
        for device in devices {
            let answer = try await stack.http(.GET, "/devices/\(device.uid.string)")
            #expect(answer.status == 200, "\(answer.body)")
            if let gateway = try JSONValue(parsing: answer.body)["gateway"]?.stringValue {
                gateways.insert(gateway)
            }
        }
        #expect(gateways.count >= 2, "\(Self.deviceCount) devices all landed on gateway(s) \(gateways.sorted())")
    }

    @Test("UDP telemetry sent to the edge with the token received at login reaches the central's telemetry webhook")
    func telemetryReachesTheWebhook() async throws {
        let stack = try ComposeStack.fromEnvironment()
        let sink = try await ComposeWebhookSink.start(port: stack.sinkPort)
        var element: TestElement?
        do {
            let run = ComposeStack.runID()
            // Group "Sensors" has Telemetry: true in deploy/config/compose/config.json.
            let device = (uid: try UID("ct-\(run)"), key: ComposeStack.randomKey())
            try await stack.replaceACL([(device.uid, device.key)])
            let connected = try await stack.login(device.uid, key: device.key)
            element = connected
            let token = try await ComposeStack.nextToken(on: connected)

            let sender = try await ComposeUDPSender.open(host: stack.host, port: stack.udpPort)
            defer { sender.close() }
            let count = 10
            for sequence in 0..<count {
                let payload = try PayloadBlock(format: .json, data: Array(#"{"run":"\#(run)","seq":\#(sequence)}"#.utf8))
                var datagram = ByteBuffer()
                TelemetryDatagram(token: token, payload: payload).write(to: &datagram)
                try await sender.send(datagram)
                try await Task.sleep(for: .milliseconds(50))
            }

            let delivered = await sink.waitFor(count: count, timeout: .seconds(30)) { received in
                received.path == "/telemetry" && (try? JSONValue(parsing: received.bodyText))?["UID"]?.stringValue == device.uid.string
            }
            let sequences = Set(delivered.compactMap { (try? JSONValue(parsing: $0.bodyText))?["Payload"]?["seq"]?.intValue })
            #expect(sequences == Set(0..<count), "delivered \(sequences.sorted()) of 0..<\(count); sink saw \(sink.all().map(\.bodyText))")
            for received in delivered {
                let json = try JSONValue(parsing: received.bodyText)
                #expect(json["Format"]?.stringValue == "JSON")
                #expect(json["Payload"]?["run"]?.stringValue == run)
                #expect(received.headers["authorization"] == "Bearer \(stack.centralKeyHex)")
            }
        } catch {
            await element?.close()
            await sink.stop()
            throw error
        }
        await element?.close()
        await sink.stop()
    }
}

/// The stack under test, as the environment describes it.
struct ComposeStack: Sendable {
    static var isConfigured: Bool { !(ProcessInfo.processInfo.environment["IOTS_COMPOSE_EDGE"] ?? "").isEmpty }

    var host: String
    var tcpPort: Int
    var udpPort: Int
    var httpPort: Int
    var centralKeyHex: String
    var sinkPort: Int

    static func fromEnvironment() throws -> ComposeStack {
        let environment = ProcessInfo.processInfo.environment
        func port(_ name: String, _ fallback: Int) throws -> Int {
            guard let text = environment[name], !text.isEmpty else { return fallback }
            return try #require(Int(text), "\(name)=\(text) is not a port")
        }
        return ComposeStack(
            host: try #require(environment["IOTS_COMPOSE_EDGE"]),
            tcpPort: try port("IOTS_COMPOSE_TCP_PORT", 50505),
            udpPort: try port("IOTS_COMPOSE_UDP_PORT", 50505),
            httpPort: try port("IOTS_COMPOSE_HTTP_PORT", 8080),
            centralKeyHex: environment["IOTS_COMPOSE_CENTRAL_KEY"].flatMap { $0.isEmpty ? nil : $0 } ?? "000102030405060708090a0b0c0d0e0f",
            sinkPort: try port("IOTS_COMPOSE_SINK_PORT", 18_090))
    }

    /// Four hex digits naming this run, so reruns against one stack never collide.
    static func runID() -> String { String(format: "%04x", UInt16.random(in: .min ... .max)) }

    static func randomKey() -> AuthKey {
        try! AuthKey(bytes: (0..<AuthKey.byteCount).map { _ in UInt8.random(in: .min ... .max) })
    }

    struct Answer: Sendable {
        var status: Int
        var body: String
    }

    enum Method: String, Sendable { case GET, POST, PUT }

    /// One call to the API through the edge, with the central's Bearer key.
    func http(_ method: Method, _ path: String, body: String? = nil) async throws -> Answer {
        var request = HTTPClientRequest(url: "http://\(self.host):\(self.httpPort)\(path)")
        request.method = .init(rawValue: method.rawValue)
        request.headers.add(name: "Authorization", value: "Bearer \(self.centralKeyHex)")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(20))
        let bytes = try await response.body.collect(upTo: 1 << 22)
        return Answer(status: Int(response.status.code), body: String(buffer: bytes))
    }

    /// `POST /acl` (PROTOCOL.md): the stack's ACL becomes exactly `entries`, group Sensors.
    func replaceACL(_ entries: [(UID, AuthKey)]) async throws {
        let items = entries.map { #"{"GroupName": "Sensors", "UID": "\#($0.0.string)", "AuthKey": "\#($0.1.hex)"}"# }
        let answer = try await self.http(.POST, "/acl", body: "[" + items.joined(separator: ",") + "]")
        try #require(answer.status == 200, "POST /acl answered \(answer.status): \(answer.body)")
    }

    /// Logs `uid` in through the edge, retrying for a few seconds while the new ACL spreads.
    func login(_ uid: UID, key: AuthKey) async throws -> TestElement {
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            do {
                return try await TestElement.connect(host: self.host, port: self.tcpPort, uid: uid, key: key, timeout: .seconds(5))
            } catch {
                if ContinuousClock.now >= deadline { throw error }
                try await Task.sleep(for: .milliseconds(250))
            }
        }
    }

    /// Waits until `GET /devices/{uid}` reports `status`.
    func waitForStatus(_ uid: UID, _ status: String, timeout: Duration = .seconds(10)) async throws {
        let deadline = ContinuousClock.now + timeout
        var last = ""
        while ContinuousClock.now < deadline {
            let answer = try await self.http(.GET, "/devices/\(uid.string)")
            last = answer.body
            if answer.status == 200, (try? JSONValue(parsing: answer.body))?["status"]?.stringValue == status { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("\(uid) never became \(status): \(last)")
    }

    /// The next Request the device receives (pings answered, tokens skipped).
    static func nextRequest(on element: TestElement) async throws -> (tracking: UInt16, payload: PayloadBlock) {
        while true {
            switch try await element.receive(timeout: .seconds(15)) {
            case .request(_, let tracking, let payload): return (tracking, payload)
            case .ping: try await element.send(.pong)
            default: continue
            }
        }
    }

    /// The telemetry token the concentrator gives the device after login.
    static func nextToken(on element: TestElement) async throws -> TelemetryToken {
        while true {
            switch try await element.receive(timeout: .seconds(15)) {
            case .telemetryToken(let token): return token
            case .ping: try await element.send(.pong)
            default: continue
            }
        }
    }
}

/// Sends datagrams to one address.
final class ComposeUDPSender: Sendable {
    private let channel: any Channel
    private let remote: SocketAddress

    private init(channel: any Channel, remote: SocketAddress) {
        self.channel = channel
        self.remote = remote
    }

    static func open(host: String, port: Int) async throws -> ComposeUDPSender {
        let remote = try SocketAddress.makeAddressResolvingHost(host, port: port)
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: remote.protocol == .inet6 ? "::" : "0.0.0.0", port: 0).get()
        return ComposeUDPSender(channel: channel, remote: remote)
    }

    func send(_ datagram: ByteBuffer) async throws {
        try await self.channel.writeAndFlush(AddressedEnvelope(remoteAddress: self.remote, data: datagram))
    }

    func close() {
        self.channel.close(promise: nil)
    }
}

/// The central's webhook endpoint for the containers: a minimal HTTP/1.1 server on every
/// interface (the containers reach the host at its bridge address, not at 127.0.0.1, which is
/// why `WebhookSink` from TestSupport cannot serve here). Answers every POST 200 with an empty
/// body and records it.
final class ComposeWebhookSink: Sendable {
    struct Received: Sendable {
        var path: String
        /// Header names in lowercase.
        var headers: [String: String]
        var body: [UInt8]
        var bodyText: String { String(decoding: self.body, as: UTF8.self) }
    }

    private let channel: any Channel
    private let received: Mutex<[Received]>

    private init(channel: any Channel) {
        self.channel = channel
        self.received = Mutex([])
    }

    static func start(port: Int) async throws -> ComposeWebhookSink {
        let log = Log()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(SinkHandler { log.append($0) })
                }
            }
            .bind(host: "0.0.0.0", port: port).get()
        let sink = ComposeWebhookSink(channel: channel)
        log.target.withLock { $0 = sink }
        return sink
    }

    func stop() async {
        try? await self.channel.close()
    }

    func all() -> [Received] { self.received.withLock { $0 } }

    /// Waits until `count` requests matching `filter` arrived or `timeout` passed; returns them.
    func waitFor(count: Int, timeout: Duration, where filter: @Sendable (Received) -> Bool) async -> [Received] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let matching = self.all().filter(filter)
            if matching.count >= count || ContinuousClock.now >= deadline { return matching }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    private final class Log: Sendable {
        let target = Mutex<ComposeWebhookSink?>(nil)
        func append(_ request: Received) {
            guard let sink = self.target.withLock({ $0 }) else { return }
            sink.received.withLock { $0.append(request) }
        }
    }

    /// Reads HTTP/1.1 requests (Content-Length or chunked bodies, keep-alive) and answers 200.
    private final class SinkHandler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        private var pending = ByteBuffer()
        private let record: @Sendable (Received) -> Void

        init(record: @escaping @Sendable (Received) -> Void) {
            self.record = record
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var chunk = self.unwrapInboundIn(data)
            self.pending.writeBuffer(&chunk)
            while true {
                switch Self.parse(self.pending) {
                case .incomplete:
                    return
                case .malformed:
                    context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(string: "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")))
                        .assumeIsolated().whenComplete { _ in context.close(promise: nil) }
                    return
                case .request(let request, let consumed, let close):
                    self.pending.moveReaderIndex(forwardBy: consumed)
                    self.pending.discardReadBytes()
                    self.record(request)
                    let reply = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 0\r\n\(close ? "Connection: close\r\n" : "")\r\n"
                    let written = context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(string: reply)))
                    if close {
                        written.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
                        return
                    }
                }
            }
        }

        enum Parsed {
            case incomplete
            case malformed
            case request(Received, consumed: Int, close: Bool)
        }

        static func parse(_ buffer: ByteBuffer) -> Parsed {
            let bytes = Array(buffer.readableBytesView)
            let separator: [UInt8] = Array("\r\n\r\n".utf8)
            guard let headerEnd = bytes.firstRange(of: separator)?.lowerBound else {
                return bytes.count > 64 * 1024 ? .malformed : .incomplete
            }
            let lines = String(decoding: bytes[..<headerEnd], as: UTF8.self).components(separatedBy: "\r\n")
            let requestLine = lines[0].split(separator: " ")
            guard requestLine.count == 3 else { return .malformed }
            var headers: [String: String] = [:]
            for line in lines.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { return .malformed }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            let close = headers["connection"]?.lowercased() == "close"
            var position = headerEnd + separator.count
            var body: [UInt8] = []
            if headers["transfer-encoding"]?.lowercased().contains("chunked") == true {
                while true {
                    guard let lineEnd = bytes[position...].firstRange(of: Array("\r\n".utf8))?.lowerBound else { return .incomplete }
                    let sizeText = String(decoding: bytes[position..<lineEnd], as: UTF8.self).split(separator: ";").first ?? ""
                    guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else { return .malformed }
                    let dataStart = lineEnd + 2
                    guard bytes.count >= dataStart + size + 2 else { return .incomplete }
                    if size == 0 {
                        // No trailers expected: the final CRLF follows the zero chunk.
                        position = dataStart + 2
                        break
                    }
                    body += bytes[dataStart..<(dataStart + size)]
                    position = dataStart + size + 2
                }
            } else {
                let length = Int(headers["content-length"] ?? "0") ?? -1
                guard length >= 0 else { return .malformed }
                guard bytes.count >= position + length else { return .incomplete }
                body = Array(bytes[position..<(position + length)])
                position += length
            }
            let received = Received(path: String(requestLine[1]), headers: headers, body: body)
            return .request(received, consumed: position, close: close)
        }
    }
}
