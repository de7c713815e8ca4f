import RedisBus
import Synchronization
import TestSupport
import Testing

/// A turn handed around by the test: who holds it, and the term of each holding.
final class TestTurn: Sendable {
    private let holder = Mutex<(name: String?, term: Int)>((nil, 0))

    func give(to name: String?) {
        self.holder.withLock { $0 = (name, $0.term + 1) }
    }

    func view(for name: String) -> some ConsumerTurn { View(turn: self, name: name) }

    fileprivate func term(for name: String) -> Int? {
        self.holder.withLock { $0.name == name ? $0.term : nil }
    }

    private struct View: ConsumerTurn {
        let turn: TestTurn
        let name: String
        var takeoverAfter: Duration { .milliseconds(200) }

        func holds(term: Int) -> Bool {
            self.turn.term(for: self.name) == term
        }

        func waitForTurn() async -> Int? {
            while !Task.isCancelled {
                if let term = self.turn.term(for: self.name) { return term }
                try? await Task.sleep(for: .milliseconds(10))
            }
            return nil
        }
    }
}

@Suite("StreamConsumer with a ConsumerTurn")
struct ConsumerTurnTests {
    private static func configuration(consumer: String) -> StreamConsumer.Configuration {
        StreamConsumer.Configuration(
            stream: "turns", group: "g", consumer: consumer, batchSize: 5, block: .milliseconds(100), reclaimAfter: .seconds(60))
    }

    @Test("only the holder reads; a new holder first takes over what the old one left pending, in order", arguments: HandlerMode.allCases)
    func holderReadsAndTakesOver(mode: HandlerMode) async throws {
        try await withRedisClient { client, _ in
            let turn = TestTurn()
            turn.give(to: "a")
            let seenByA = DeliveryLog()
            let seenByB = DeliveryLog()
            // `a` finishes nothing (as if it died mid-batch); `b` finishes everything.
            let a = makeConsumer(mode, client: client, configuration: Self.configuration(consumer: "a"), logger: testLogger, turn: turn.view(for: "a")) {
                entries in
                _ = await seenByA.record(entries)
                return []
            }
            let b = makeConsumer(mode, client: client, configuration: Self.configuration(consumer: "b"), logger: testLogger, turn: turn.view(for: "b")) {
                entries in
                _ = await seenByB.record(entries)
                return entries.map(\.id)
            }
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { await a.run() }
                group.addTask { await b.run() }
                var ids: [String] = []
                for index in 0..<5 {
                    ids.append(try await client.xadd("turns", fields: [("n", .integer(index))]))
                }
                #expect(await eventually { await seenByA.counts.count == 5 })
                try await Task.sleep(for: .milliseconds(300))
                #expect(await seenByB.deliveries.isEmpty, "b read without the turn")

                // `a` loses the turn; what its read in flight brings back now stays pending.
                turn.give(to: nil)
                ids.append(try await client.xadd("turns", fields: [("n", 5)]))
                // The holder-less gap outlasts a blocking read (100 ms) by far, as a lease's does
                // (RouterLeadership stops reading 1 s before its lease runs out).
                try await Task.sleep(for: .seconds(1))
                turn.give(to: "b")
                for index in 6..<8 {
                    ids.append(try await client.xadd("turns", fields: [("n", .integer(index))]))
                }
                #expect(await eventually { await seenByB.counts.count == 8 })
                // The five `a` left pending come first, then the new ones, each once.
                let orderB = await seenByB.deliveries.map(\.ids)
                #expect(orderB.flatMap { $0 } == ids, "b saw \(orderB), added \(ids)")
                #expect(await eventually { (try? await client.xpendingSummary("turns", group: "g").count) == 0 })
                #expect(await seenByA.counts.count == 5, "a kept reading after losing the turn")
                group.cancelAll()
            }
        }
    }
}
