/// http-api cannot start with this configuration; names the configuration key and the file
/// involved so an operator knows what to fix.
struct HTTPAPIStartupError: Error, CustomStringConvertible {
    /// The configuration key, e.g. `HTTPServer.SSLCrtFilename`.
    var key: String
    /// The file the key names, when the problem is with a file.
    var file: String?
    var problem: String

    var description: String {
        if let file {
            return "\(self.key) \"\(file)\": \(self.problem)"
        }
        return "\(self.key): \(self.problem)"
    }
}
