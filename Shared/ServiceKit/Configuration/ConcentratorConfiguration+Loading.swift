import Foundation
import IoTSocket

extension ConcentratorConfiguration {
    /// A configuration read from a file and the environment, with what was noticed on the way.
    public struct Loaded: Sendable {
        public var configuration: ConcentratorConfiguration
        /// Non-fatal findings (unknown keys) to log once logging is up.
        public var warnings: [String]
    }

    /// Reads `path` (or only defaults when `path` is nil), then applies `environment`.
    ///
    /// Relative file names inside the file (`ACLFile`, TLS files) are resolved against the
    /// file's folder, so a configuration folder can be mounted anywhere.
    /// - Throws: `ConfigurationError` naming the file (or `environment`), the key, what was
    ///   expected and what was found.
    public static func load(path: String?, environment: [String: String]) throws(ConfigurationError) -> Loaded {
        var loaded = Loaded(configuration: ConcentratorConfiguration(), warnings: [])
        if let path {
            loaded = try Self.decodeFile(path)
            loaded.configuration.resolveRelativeFiles(against: (path as NSString).deletingLastPathComponent)
        }
        try loaded.configuration.applyEnvironment(environment)
        return loaded
    }

    /// Decodes the JSON document at `path`.
    static func decodeFile(_ path: String) throws(ConfigurationError) -> Loaded {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError(source: path, key: "(file)", expected: "a readable JSON file", found: "no such file or no permission")
        }
        let warnings = ConfigurationWarnings()
        let decoder = JSONDecoder()
        decoder.userInfo[ConfigurationWarnings.userInfoKey] = warnings
        do {
            let configuration = try decoder.decode(ConcentratorConfiguration.self, from: data)
            return Loaded(configuration: configuration, warnings: warnings.all.map { "\(path): \($0)" })
        } catch let error as DecodingError {
            throw Self.describe(error, in: path)
        } catch {
            throw ConfigurationError(source: path, key: "(file)", expected: "a JSON object", found: "\(error)")
        }
    }

    /// Turns a decoding failure into an operator's sentence.
    static func describe(_ error: DecodingError, in path: String) -> ConfigurationError {
        switch error {
        case .typeMismatch(let type, let context):
            return ConfigurationError(source: path, key: Self.keyName(context.codingPath), expected: Self.describe(type))
        case .valueNotFound(let type, let context):
            return ConfigurationError(
                source: path, key: Self.keyName(context.codingPath), expected: Self.describe(type), found: "null")
        case .keyNotFound(let key, let context):
            return ConfigurationError(
                source: path, key: Self.keyName(context.codingPath + [key]), expected: "a value", found: "nothing")
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            let reason = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
            return ConfigurationError(
                source: path, key: "(file)", expected: "valid JSON", found: reason ?? context.debugDescription)
        case .dataCorrupted(let context):
            let text = context.debugDescription
            if text.hasPrefix("expected "), let split = text.range(of: ", found ") {
                return ConfigurationError(
                    source: path, key: Self.keyName(context.codingPath),
                    expected: String(text[text.index(text.startIndex, offsetBy: 9)..<split.lowerBound]),
                    found: String(text[split.upperBound...]))
            }
            return ConfigurationError(source: path, key: Self.keyName(context.codingPath), expected: "a valid value", found: text)
        @unknown default:
            return ConfigurationError(source: path, key: "(file)", expected: "a valid configuration", found: "\(error)")
        }
    }

    private static func keyName(_ path: [any CodingKey]) -> String {
        path.isEmpty ? "(top level)" : dottedKeyPath(path)
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type: "an integer"
        case is Bool.Type: "true or false"
        case is String.Type: "a string"
        case is Double.Type: "a number"
        default: String(describing: type).hasPrefix("Array") ? "a JSON array" : "a JSON object"
        }
    }

    mutating func resolveRelativeFiles(against folder: String) {
        func resolve(_ file: String?) -> String? {
            guard let file, !file.hasPrefix("/"), !folder.isEmpty else { return file }
            return (folder as NSString).appendingPathComponent(file)
        }
        self.aclFile = resolve(self.aclFile)
        self.tcpServer.tlsKeyFile = resolve(self.tcpServer.tlsKeyFile)
        self.tcpServer.tlsCertificateFile = resolve(self.tcpServer.tlsCertificateFile)
        self.httpServer.tlsKeyFile = resolve(self.httpServer.tlsKeyFile)
        self.httpServer.tlsCertificateFile = resolve(self.httpServer.tlsCertificateFile)
    }
}
