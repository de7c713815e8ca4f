import AsyncHTTPClient
import Foundation
import Logging
import Messaging
import NIOCore
import NIOHTTP1
import NIOPosix

/// One webhook URL: its own HTTP client, in-flight bound and circuit breaker, so a slow or dead
/// URL never holds connections, slots or breaker state of the other.
///
/// Every exchange has a connect timeout, a read timeout and an overall deadline; redirects are
/// not followed (a 3xx is a failure); answers are read up to `MaxContentLength`.
final class WebhookEndpoint: Sendable {
    let application: WebhookApplication
    let url: String
    let breaker: CircuitBreaker
    let metrics: EndpointMetrics
    private let gate: InFlightGate
    /// The most requests in flight to this endpoint (`MaxInFlight`).
    var maxInFlight: Int { self.gate.capacity }
    private let client: HTTPClient
    private let authorization: String
    private let signer: WebhookSigner?
    private let maxContentLength: Int
    private let logger: Logger

    init(application: WebhookApplication, url: String, settings: DispatcherSettings, logger: Logger) {
        self.application = application
        self.url = url
        self.breaker = CircuitBreaker()
        self.metrics = EndpointMetrics(application)
        self.gate = InFlightGate(capacity: settings.maxInFlight)
        self.authorization = settings.authorization
        self.signer = settings.signingKey.map { WebhookSigner(key: $0) }
        self.maxContentLength = settings.maxContentLength
        self.logger = logger
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(
                connect: .milliseconds(Int64(settings.connectTimeout.inMilliseconds)),
                read: .milliseconds(Int64(settings.attemptTimeout.inMilliseconds))),
            decompression: .disabled)
        // Enough connections for every slot of the gate, which is the real limit.
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = settings.maxInFlight
        // A refused connection must surface at once (the request path decides to retry or to
        // answer 0x01), not be retried silently until the deadline.
        configuration.connectionPool.retryConnectionEstablishment = false
        // No tracer is bootstrapped here; without this every request would still pay for a
        // no-op span and its attributes (≈3 % of the dispatcher's CPU at full load).
        configuration.tracing.tracer = nil
        self.client = HTTPClient(eventLoopGroupProvider: .shared(MultiThreadedEventLoopGroup.singleton), configuration: configuration)
        self.metrics.circuitState.record(0)
        self.metrics.inFlight.record(0)
    }

    /// Closes the client's connections; call once, after the last delivery.
    func shutdown() async {
        do {
            try await self.client.shutdown()
        } catch {
            self.logger.warning("webhook client shutdown failed", metadata: ["application": "\(self.application)", "error": "\(error)"])
        }
    }

    /// Runs `body` holding one of the endpoint's in-flight slots, waiting for one first.
    /// - Returns: nil, without running `body`, when the task was cancelled while waiting.
    func withSlot<T: Sendable>(_ body: () async -> T) async -> T? {
        guard await self.acquireSlot() else { return nil }
        defer { self.releaseSlot() }
        return await body()
    }

    /// Waits for an in-flight slot (for work that outlives the caller's scope).
    /// - Returns: false when the task was cancelled while waiting (no slot held).
    func acquireSlot() async -> Bool {
        guard await self.gate.acquire() else { return false }
        self.metrics.inFlight.record(self.gate.inUse)
        return true
    }

    /// Gives back a slot taken with ``acquireSlot()``.
    func releaseSlot() {
        self.gate.release()
        self.metrics.inFlight.record(self.gate.inUse)
    }

    /// POSTs `body` once (the caller holds a slot, see ``withSlot(_:)``).
    ///
    /// - Parameters:
    ///   - webhookID: the message's stable id, for the signature headers.
    ///   - deadline: when the whole exchange must be over.
    ///   - readAnswer: whether the answer body is wanted (request webhooks); otherwise it is
    ///     drained and dropped.
    /// - Returns: the answer body of a 2xx, or why there is none.
    func post(_ body: [UInt8], webhookID: String, deadline: NIODeadline, readAnswer: Bool) async -> Result<ByteBuffer, DeliveryFailure> {
        let permit = self.breaker.permit()
        if case .rejected(let retryIn) = permit {
            self.metrics.circuitState.record(self.breaker.phase().rawValue)
            return .failure(.circuitOpen(retryIn: retryIn))
        }
        let probe = permit == .probe
        var request = HTTPClientRequest(url: self.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Authorization", value: self.authorization)
        request.headers.add(name: "User-Agent", value: "iotsocket-concentrator")
        if let signer = self.signer {
            for header in signer.headers(id: webhookID, timestampSeconds: Int(Date().timeIntervalSince1970), body: body) {
                request.headers.add(name: header.name, value: header.value)
            }
        }
        request.body = .bytes(ByteBuffer(bytes: body))
        let started = ContinuousClock.now
        let result = await self.exchange(request, deadline: deadline, readAnswer: readAnswer)
        self.metrics.httpDuration.recordNanoseconds((ContinuousClock.now - started).wholeNanoseconds)
        switch result {
        case .success:
            self.breaker.recordSuccess(probe: probe)
        case .failure(let failure) where failure.countsAgainstEndpoint:
            self.breaker.recordFailure(probe: probe, retryAfter: failure.retryAfter)
        case .failure:
            self.breaker.recordSuccess(probe: probe)
        }
        self.metrics.circuitState.record(self.breaker.phase().rawValue)
        return result
    }

    private func exchange(_ request: HTTPClientRequest, deadline: NIODeadline, readAnswer: Bool) async -> Result<ByteBuffer, DeliveryFailure> {
        do {
            let response = try await self.client.execute(request, deadline: deadline, logger: self.logger)
            let code = Int(response.status.code)
            guard (200..<300).contains(code) else {
                let retryAfter = response.headers.first(name: "Retry-After").flatMap { RetrySchedule.retryAfter($0) }
                try await Self.drain(response.body, limit: self.maxContentLength)
                return .failure(.status(code, retryAfter: retryAfter))
            }
            guard readAnswer else {
                try await Self.drain(response.body, limit: self.maxContentLength)
                return .success(ByteBuffer())
            }
            do {
                return .success(try await response.body.collect(upTo: self.maxContentLength))
            } catch is NIOTooManyBytesError {
                return .failure(.answerTooLarge(limit: self.maxContentLength))
            }
        } catch {
            return .failure(Self.classify(error))
        }
    }

    /// Reads and drops a body so its connection can be reused; stops reading past `limit`
    /// (leaving the loop ends the stream, and async-http-client closes that connection).
    private static func drain(_ body: HTTPClientResponse.Body, limit: Int) async throws {
        var seen = 0
        for try await chunk in body {
            seen += chunk.readableBytes
            if seen > limit { break }
        }
    }

    /// Maps a client error to the failure kinds the retry rules and metrics use.
    static func classify(_ error: any Error) -> DeliveryFailure {
        if let client = error as? HTTPClientError {
            let timeouts: [HTTPClientError] = [
                .deadlineExceeded, .readTimeout, .writeTimeout, .connectTimeout, .tlsHandshakeTimeout, .getConnectionFromPoolTimeout,
            ]
            if timeouts.contains(client) { return .timedOut }
            return .transport(client.shortDescription)
        }
        if let connection = error as? NIOConnectionError {
            if connection.connectionErrors.contains(where: { Self.isRefused($0.error) }) { return .connectionRefused }
            return .transport("\(connection)")
        }
        if Self.isRefused(error) { return .connectionRefused }
        if error is CancellationError { return .transport("cancelled") }
        return .transport(String(String(describing: error).prefix(200)))
    }

    private static func isRefused(_ error: any Error) -> Bool {
        if let io = error as? IOError { return io.errnoCode == ECONNREFUSED }
        return false
    }
}
