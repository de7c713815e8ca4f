/// Helpers to read configuration objects key by key with defaults and range checks.
///
/// Range errors are thrown as `DecodingError.dataCorrupted` with the value's coding path and an
/// `expected …, found …` debug description; `ConcentratorConfiguration.load` turns every
/// `DecodingError` into a `ConfigurationError` that also names the file.
extension KeyedDecodingContainer where Key == ConfigurationKey {
    /// Reads `key`, or returns `defaultValue` when the key is absent or `null`.
    func value<T: Decodable>(_ key: String, default defaultValue: T) throws -> T {
        try self.decodeIfPresent(T.self, forKey: ConfigurationKey(key)) ?? defaultValue
    }

    /// Reads an integer key and checks it lies in `range`.
    func integer(_ key: String, default defaultValue: Int, in range: ClosedRange<Int>) throws -> Int {
        let value = try self.value(key, default: defaultValue)
        guard range.contains(value) else {
            throw self.invalid(key, expected: "an integer \(range.lowerBound)–\(range.upperBound)", found: "\(value)")
        }
        return value
    }

    /// Reads a TCP/UDP port (1–65535).
    func port(_ key: String, default defaultValue: Int) throws -> Int {
        try self.integer(key, default: defaultValue, in: 1...65535)
    }

    /// Reads an optional file name; an empty string means "not set" (the reference files write
    /// `""` for TLS off).
    func fileName(_ key: String) throws -> String? {
        let value = try self.value(key, default: "")
        return value.isEmpty ? nil : value
    }

    /// An error for `key` in this container, carrying its full coding path.
    func invalid(_ key: String, expected: String, found: String) -> DecodingError {
        DecodingError.dataCorrupted(
            .init(codingPath: self.codingPath + [ConfigurationKey(key)], debugDescription: "expected \(expected), found \(found)")
        )
    }

    /// Records every key of this object that is not in `known` as a warning (typos would
    /// otherwise be ignored silently).
    func warnAboutUnknownKeys(known: Set<String>, decoder: any Decoder) {
        guard let warnings = decoder.userInfo[ConfigurationWarnings.userInfoKey] as? ConfigurationWarnings else { return }
        for key in self.allKeys where !known.contains(key.stringValue) {
            warnings.add("unknown key \"\(dottedKeyPath(self.codingPath + [key]))\" ignored")
        }
    }
}
