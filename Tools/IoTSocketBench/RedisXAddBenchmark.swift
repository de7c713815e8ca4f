import ArgumentParser
import Foundation
import NIOPosix
import RedisBus

/// Pipelined `XADD … MAXLEN ~` on one connection of the Redis module, as services append to
/// their streams.
struct RedisXAddBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "redis-xadd",
        abstract: "Pipelined XADD rate of the RedisBus module on one connection."
    )

    @Option(help: "Redis URL.") var redis = "redis://127.0.0.1:6379"
    @Option(help: "XADDs in total.") var count = 2_000_000
    @Option(help: "XADDs per pipelined batch.") var batch = 256
    @Option(help: "Batches in flight at once.") var window = 4
    @Option(help: "Payload bytes per entry.") var payload = 64

    func run() async throws {
        let connection = try await RedisConnection.connect(
            to: try RedisURL(self.redis), configuration: .init(), eventLoopGroup: MultiThreadedEventLoopGroup.singleton)
        let stream = "bench:xadd:\(UInt32.random(in: 0...UInt32.max))"
        let body = [UInt8](repeating: 0x41, count: self.payload)
        let commands: [[RedisArgument]] = (0..<self.batch).map { _ in
            ["XADD", .string(stream), "MAXLEN", "~", 100_000, "*", "uid", "0000000000000000", "f", .bytes(body)]
        }
        let batches = max(1, self.count / self.batch)
        // Warm-up: connection, allocator, Redis' stream.
        _ = try await connection.pipeline(commands)

        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            var started = 0
            while started < min(self.window, batches) {
                group.addTask { _ = try await connection.pipeline(commands) }
                started += 1
            }
            while try await group.next() != nil {
                if started < batches {
                    group.addTask { _ = try await connection.pipeline(commands) }
                    started += 1
                }
            }
        }
        let elapsed = ContinuousClock.now - start
        _ = try await connection.send(["DEL", .string(stream)])
        await connection.close()

        let total = batches * self.batch
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let rate = Double(total) / seconds
        let figures: [(key: String, value: String)] = [
            ("entries", String(total)), ("batch", String(self.batch)), ("window", String(self.window)),
            ("payload_bytes", String(self.payload)), ("seconds", String(format: "%.3f", seconds)),
            ("per_second", String(format: "%.0f", rate)),
        ]
        BenchmarkReport(name: "redis-xadd", figures: figures).print()
    }
}
