import ArgumentParser
import AsyncHTTPClient
import Foundation
import IoTSocket
import Messaging
import NIOCore
import NIOPosix
import RedisBus

/// UDP telemetry ingest: seeds N device tokens in Redis as the router would, sends telemetry
/// datagrams to a running udp-telemetry from several sockets, and counts what reached the
/// telemetry stream.
///
/// Accepted datagrams are counted with the service's own `iots_udp_telemetry_appended_total`
/// (datagrams Redis confirmed on the stream; one entry packs up to 64 of them), read from its
/// admin `/metrics` before and after the run.
struct UDPIngestBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "udp-ingest",
        abstract: "Telemetry datagrams per second accepted into the telemetry stream by udp-telemetry, and loss."
    )

    @Option(help: "Redis URL of the concentrator.") var redis = "redis://127.0.0.1:6379"
    @Option(help: "Key prefix of the concentrator in Redis.") var prefix = "iots:"
    @Option(help: "udp-telemetry host.") var host = "127.0.0.1"
    @Option(help: "udp-telemetry port.") var port = 50505
    @Option(help: "udp-telemetry's admin metrics URL (counts the datagrams it appended).") var metrics = "http://127.0.0.1:9103/metrics"
    @Option(help: "Devices (tokens seeded in Redis); each sends from one socket.") var devices = 1_000
    @Option(help: "Datagrams per second in total (0: as fast as possible).") var rate = 0
    @Option(help: "Seconds to send.") var seconds = 10
    @Option(help: "Sending sockets, each with its own task.") var senders = 4
    @Option(help: "Payload bytes per datagram.") var payload = 32
    @Option(help: "Datagrams written per flush (one sendmmsg batch).") var batch = 64

    func validate() throws {
        guard self.devices > 0, self.senders > 0, self.seconds > 0, self.batch > 0, self.rate >= 0 else {
            throw ValidationError("--devices, --senders, --seconds and --batch must be positive, --rate at least 0")
        }
        guard self.payload <= 4_000 else { throw ValidationError("--payload must fit a datagram of DatagramMaxSize (4096)") }
    }

    func run() async throws {
        let client = try RedisClient(url: self.redis)
        let keys = KeySpace(prefix: self.prefix)
        let datagrams = try await self.seedDevices(client: client, keys: keys)
        let before = try await Self.appended(metricsURL: self.metrics)

        let target = try SocketAddress.makeAddressResolvingHost(self.host, port: self.port)
        let senderCount = min(self.senders, self.devices)
        var channels: [any Channel] = []
        for _ in 0..<senderCount {
            channels.append(
                try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .channelOption(.socketOption(.so_sndbuf), value: 4 << 20)
                    .bind(host: target.protocol == .inet6 ? "::" : "0.0.0.0", port: 0).get())
        }

        let started = ContinuousClock.now
        let deadline = started + .seconds(self.seconds)
        let perSenderRate = Double(self.rate) / Double(senderCount)
        let sent = try await withThrowingTaskGroup(of: Int.self) { group in
            for (index, channel) in channels.enumerated() {
                // Each device always sends from the same socket, as a real one would.
                let own = stride(from: index, to: datagrams.count, by: senderCount).map { datagrams[$0] }
                group.addTask {
                    try await Self.send(own, on: channel, to: target, batch: self.batch, rate: perSenderRate, until: deadline)
                }
            }
            return try await group.reduce(0, +)
        }
        let sendSeconds = Self.seconds(ContinuousClock.now - started)
        let after = try await Self.settledAppended(metricsURL: self.metrics)
        for channel in channels {
            try? await channel.close()
        }
        await client.close()

        let accepted = after - before
        let loss = sent > 0 ? Double(sent - accepted) / Double(sent) : 0
        BenchmarkReport(
            name: "udp-ingest",
            figures: [
                ("devices", String(self.devices)), ("senders", String(senderCount)), ("target_rate", String(self.rate)),
                ("payload_bytes", String(self.payload)), ("seconds", String(format: "%.3f", sendSeconds)),
                ("sent", String(sent)), ("accepted", String(accepted)), ("loss", String(format: "%.4f", loss)),
                ("sent_per_second", String(format: "%.0f", Double(sent) / sendSeconds)),
                ("accepted_per_second", String(format: "%.0f", Double(accepted) / sendSeconds)),
            ]
        ).print()
    }

    /// Stores one token per device (`<prefix>token:<hex>` → UID hex, expiring a while after the
    /// run) and returns each device's datagram.
    private func seedDevices(client: RedisClient, keys: KeySpace) async throws -> [ByteBuffer] {
        let lifetime = (self.seconds + 300) * 1_000
        let block = try PayloadBlock(format: .binary, data: [UInt8](repeating: 0x5A, count: self.payload))
        var datagrams: [ByteBuffer] = []
        var commands: [[RedisArgument]] = []
        for index in 0..<self.devices {
            let token = TelemetryToken.random()
            let uid = try UID("bench-udp-\(index)")
            commands.append(["SET", .string(keys.telemetryToken(token.hex)), .string(uid.hex), "PX", .integer(lifetime)])
            var buffer = ByteBuffer()
            TelemetryDatagram(token: token, payload: block).write(to: &buffer)
            datagrams.append(buffer)
            if commands.count == 1_000 || index == self.devices - 1 {
                for reply in try await client.pipeline(commands) where reply.errorMessage != nil {
                    throw RedisError.server(message: reply.errorMessage ?? "", command: "SET")
                }
                commands.removeAll(keepingCapacity: true)
            }
        }
        return datagrams
    }

    /// Sends `datagrams` round-robin in flushes of `batch` until `deadline`, at `rate` per second
    /// (0: as fast as the socket takes them); returns how many were sent.
    private static func send(
        _ datagrams: [ByteBuffer], on channel: any Channel, to target: SocketAddress, batch: Int, rate: Double,
        until deadline: ContinuousClock.Instant
    ) async throws -> Int {
        let started = ContinuousClock.now
        var sent = 0
        var next = 0
        while ContinuousClock.now < deadline {
            let first = next
            // The whole batch is written on the channel's loop: one hop per batch, not one per
            // datagram (which cost the sender more CPU than the kernel's own work).
            let written = channel.eventLoop.flatSubmit { () -> EventLoopFuture<Void> in
                var index = first
                for _ in 0..<(batch - 1) {
                    channel.write(AddressedEnvelope(remoteAddress: target, data: datagrams[index]), promise: nil)
                    index = index + 1 == datagrams.count ? 0 : index + 1
                }
                return channel.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: datagrams[index]))
            }
            // Waiting for the last write of the batch keeps at most one batch queued in NIO.
            try await written.get()
            next = (first + batch) % datagrams.count
            sent += batch
            if rate > 0 {
                let due = Self.seconds(ContinuousClock.now - started) * rate
                if Double(sent) > due {
                    try await Task.sleep(for: .seconds((Double(sent) - due) / rate))
                }
            }
        }
        return sent
    }

    /// The service's `iots_udp_telemetry_appended_total` (summed over its label sets).
    private static func appended(metricsURL: String) async throws -> Int {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: metricsURL), timeout: .seconds(5))
        guard response.status == .ok else { throw ValidationError("\(metricsURL) answered \(response.status)") }
        let text = String(buffer: try await response.body.collect(upTo: 16 << 20))
        var total = 0.0
        var seen = false
        for line in text.split(separator: "\n") where line.hasPrefix("iots_udp_telemetry_appended_total") {
            if let value = line.split(separator: " ").last.flatMap({ Double($0) }) {
                total += value
                seen = true
            }
        }
        guard seen else { throw ValidationError("\(metricsURL) has no iots_udp_telemetry_appended_total: is it udp-telemetry's admin port?") }
        return Int(total)
    }

    /// Waits until the service has appended what it will (the count is unchanged for a second,
    /// or 20 s have passed) and returns the count.
    private static func settledAppended(metricsURL: String) async throws -> Int {
        let giveUp = ContinuousClock.now + .seconds(20)
        var last = try await Self.appended(metricsURL: metricsURL)
        var unchangedSince = ContinuousClock.now
        while ContinuousClock.now < giveUp, ContinuousClock.now - unchangedSince < .seconds(1) {
            try await Task.sleep(for: .milliseconds(100))
            let now = try await Self.appended(metricsURL: metricsURL)
            if now != last {
                last = now
                unchangedSince = .now
            }
        }
        return last
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
