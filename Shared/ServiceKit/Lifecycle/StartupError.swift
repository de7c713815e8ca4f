/// A service cannot start with this configuration: names the configuration key and the file
/// involved so an operator knows what to fix (printed before exiting with status 78).
public struct StartupError: Error, CustomStringConvertible, Sendable {
    /// The configuration key, e.g. `TCPServer.SSLCrtFilename`.
    public var key: String
    /// The file the key names, when the problem is with a file.
    public var file: String?
    public var problem: String

    public init(key: String, file: String? = nil, problem: String) {
        self.key = key
        self.file = file
        self.problem = problem
    }

    public var description: String {
        if let file {
            return "\(self.key) \"\(file)\": \(self.problem)"
        }
        return "\(self.key): \(self.problem)"
    }
}
