import ArgumentParser

/// `iotsocket-bench`: measures an IoTSocket concentrator and its parts.
@main
struct IoTSocketBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "iotsocket-bench",
        abstract: "Benchmarks for the IoTSocket concentrator. Each run prints a human summary and one JSON line.",
        subcommands: [RedisXAddBenchmark.self, SessionsBenchmark.self, SessionsWorker.self, TCPRoundTripBenchmark.self, HTTPRoundTripBenchmark.self, UDPIngestBenchmark.self, WebhookDeliveryBenchmark.self, TelemetryBenchmark.self, WebhookSinkCommand.self, SimulateCommand.self, LoopbackCeilingBenchmark.self, LoopbackPeerCommand.self]
    )
}
