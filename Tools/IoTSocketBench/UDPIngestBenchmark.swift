import ArgumentParser
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
/// Accepted entries are counted with `XINFO STREAM … entries-added`, which trimming
/// (`MAXLEN ~`) does not lower, so long runs are measured correctly.
struct UDPIngestBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "udp-ingest",
        abstract: "Telemetry datagrams per second accepted into the telemetry stream by udp-telemetry, and loss."
    )

    @Option(help: "Redis URL of the concentrator.") var redis = "redis://127.0.0.1:6379"
    @Option(help: "Key prefix of the concentrator in Redis.") var prefix = "iots:"
    @Option(help: "udp-telemetry host.") var host = "127.0.0.1"
    @Option(help: "udp-telemetry port.") var port = 50505
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
        let before = try await Self.entriesAdded(client: client, stream: keys.telemetryStream)

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
        let after = try await Self.settledEntriesAdded(client: client, stream: keys.telemetryStream)
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
            for _ in 0..<(batch - 1) {
                channel.write(AddressedEnvelope(remoteAddress: target, data: datagrams[next]), promise: nil)
                next = next + 1 == datagrams.count ? 0 : next + 1
            }
            // Waiting for the last write of the batch keeps at most one batch queued in NIO.
            try await channel.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: datagrams[next])).get()
            next = next + 1 == datagrams.count ? 0 : next + 1
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

    /// `entries-added` of the stream (every entry ever appended, trimming notwithstanding);
    /// 0 when the stream does not exist yet.
    private static func entriesAdded(client: RedisClient, stream: String) async throws -> Int {
        let reply: RedisValue
        do {
            reply = try await client.send(["XINFO", "STREAM", .string(stream)])
        } catch let error as RedisError where error.serverErrorCode == "ERR" {
            return 0  // no such key
        }
        let fields = reply.array ?? []
        var index = 0
        while index + 1 < fields.count {
            if fields[index].string == "entries-added", let value = fields[index + 1].int {
                return value
            }
            index += 2
        }
        throw RedisError.unexpectedReply(command: "XINFO STREAM", reply: "no entries-added (Redis 7 or later is needed)")
    }

    /// Waits until the service has appended what it will (the count is unchanged for a second,
    /// or 20 s have passed) and returns the count.
    private static func settledEntriesAdded(client: RedisClient, stream: String) async throws -> Int {
        let giveUp = ContinuousClock.now + .seconds(20)
        var last = try await Self.entriesAdded(client: client, stream: stream)
        var unchangedSince = ContinuousClock.now
        while ContinuousClock.now < giveUp, ContinuousClock.now - unchangedSince < .seconds(1) {
            try await Task.sleep(for: .milliseconds(100))
            let now = try await Self.entriesAdded(client: client, stream: stream)
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
