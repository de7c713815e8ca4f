/// A configuration problem, naming where it was found and what was expected.
///
/// The description is meant for an operator reading a terminal: it says which file (or which
/// environment variable), which key, what was expected and what was found.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Where the value came from: a file path, or `environment` for `IOTS_…` variables.
    public var source: String
    /// The dotted key path (`TCPServer.Port`) or the environment variable name.
    public var key: String
    /// What the key must hold, in words (`an integer 1–65535`).
    public var expected: String
    /// What was found, when there was something to show.
    public var found: String?

    public init(source: String, key: String, expected: String, found: String? = nil) {
        self.source = source
        self.key = key
        self.expected = expected
        self.found = found
    }

    public var description: String {
        var text = "\(self.source): key \"\(self.key)\": expected \(self.expected)"
        if let found = self.found {
            text += ", found \(found)"
        }
        return text
    }
}
