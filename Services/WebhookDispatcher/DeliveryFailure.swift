/// Why an attempt to deliver a webhook did not get a 2xx answer.
enum DeliveryFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// The central answered with a status other than 2xx (3xx included: redirects are not
    /// followed). `retryAfter` is its `Retry-After`, if any.
    case status(Int, retryAfter: Duration?)
    /// Nothing listens at the URL's port.
    case connectionRefused
    /// No complete answer before the attempt's deadline (connect, read or overall).
    case timedOut
    /// Another transport failure (DNS, TLS, connection reset…).
    case transport(String)
    /// The circuit breaker is open: nothing was sent.
    case circuitOpen(retryIn: Duration)
    /// The answer body is longer than `MaxContentLength`.
    case answerTooLarge(limit: Int)

    /// Short and stable, for the `lastError` of an application and dead-letter reasons.
    var description: String {
        switch self {
        case .status(let code, _): "HTTP \(code)"
        case .connectionRefused: "connection refused"
        case .timedOut: "timed out"
        case .transport(let detail): "transport error: \(detail)"
        case .circuitOpen: "circuit open"
        case .answerTooLarge(let limit): "answer longer than \(limit) bytes"
        }
    }

    /// The metric outcome label.
    var outcome: String {
        switch self {
        case .status(let code, _): "http_\(code / 100)xx"
        case .connectionRefused: "connection_refused"
        case .timedOut: "timeout"
        case .transport: "transport_error"
        case .circuitOpen: "circuit_open"
        case .answerTooLarge: "answer_too_large"
        }
    }

    /// Whether this says the endpoint is unwell (feeds the circuit breaker).
    var countsAgainstEndpoint: Bool {
        switch self {
        case .status(let code, _): code == 429 || code >= 500
        case .connectionRefused, .timedOut, .transport: true
        case .circuitOpen, .answerTooLarge: false
        }
    }

    /// The central's requested pause.
    var retryAfter: Duration? {
        if case .status(_, let retryAfter) = self { return retryAfter }
        return nil
    }
}
