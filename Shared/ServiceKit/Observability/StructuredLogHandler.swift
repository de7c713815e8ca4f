#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging

/// A swift-log handler writing one logfmt line per event to standard output:
/// `ts=2026-11-21T08:00:00.123Z level=info service=router instance=r1 msg="session opened" uid=ObjTest`.
///
/// Each line goes out in a single `write(2)`, so lines from concurrent tasks never interleave
/// (container runtimes collect stdout line by line).
public struct StructuredLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    private let label: String

    public init(label: String, level: Logger.Level, metadata: Logger.Metadata = [:]) {
        self.label = label
        self.logLevel = level
        self.metadata = metadata
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = "ts=\(Self.timestamp()) level=\(event.level.rawValue) msg=\(Self.quoted(event.message.description))"
        var merged = self.metadata
        if let extra = event.metadata {
            merged.merge(extra) { _, new in new }
        }
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            line += " \(key)=\(Self.quoted(value.description))"
        }
        if event.level >= .error {
            line += " source=\(Self.quoted("\(event.file):\(event.line)"))"
        }
        line += "\n"
        var bytes = Array(line.utf8)
        let count = bytes.count
        bytes.withUnsafeMutableBytes { buffer in
            var offset = 0
            while offset < count {
                let written = write(1, buffer.baseAddress! + offset, count - offset)
                if written <= 0 { return }
                offset += written
            }
        }
    }

    /// Quotes a value when it holds spaces, quotes, `=` or control characters (logfmt).
    static func quoted(_ text: String) -> String {
        let needsQuotes = text.isEmpty || text.utf8.contains { $0 <= 0x20 || $0 == 0x22 || $0 == 0x3D || $0 == 0x5C }
        guard needsQuotes else { return text }
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            default:
                if scalar.value < 0x20 {
                    result += "\\u{\(String(scalar.value, radix: 16))}"
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }

    /// UTC time with milliseconds, ISO 8601.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var parts = tm()
        var seconds = now.tv_sec
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(now.tv_nsec / 1_000_000), 3))Z"
    }
}
