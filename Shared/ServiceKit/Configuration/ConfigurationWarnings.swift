import Synchronization

/// Collects non-fatal findings while a configuration file is decoded (unknown keys, mostly), so
/// the service can log them once its logger exists.
///
/// Decoding runs synchronously on one thread; the mutex only makes the type `Sendable` so it can
/// travel in the decoder's `userInfo`.
final class ConfigurationWarnings: Sendable {
    static let userInfoKey = CodingUserInfoKey(rawValue: "iots.configuration.warnings")!

    private let items = Mutex<[String]>([])

    func add(_ warning: String) {
        self.items.withLock { $0.append(warning) }
    }

    var all: [String] {
        self.items.withLock { $0 }
    }
}
