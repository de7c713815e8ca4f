/// Where a Redis server is and how to log in: `redis://[[user]:password@]host[:port][/db]`
/// over TCP, or `unix://[[user]:password@]/path/to/redis.sock[?db=N]` over a Unix domain
/// socket (a Redis on the same host).
///
/// Accepted forms: `redis://host` (port 6379, database 0), `redis://host:6380/2`,
/// `redis://:secret@host`, `redis://user:secret@host:6379/0`, `redis://[::1]:6379`,
/// `unix:///run/redis/redis.sock`, `unix://:secret@/run/redis/redis.sock?db=2`.
/// User and password may be percent-encoded. TLS (`rediss://`) is not supported.
public struct RedisURL: Sendable, Hashable {
    /// The default Redis port.
    public static let defaultPort = 6379

    /// Host name or IP address (IPv6 without brackets); empty for a Unix socket.
    public var host: String
    /// TCP port (unused for a Unix socket).
    public var port: Int
    /// The Unix domain socket's absolute path; nil for TCP.
    public var socketPath: String?
    /// ACL user name for `AUTH user password`; `nil` means the default user.
    public var username: String?
    /// Password sent with `AUTH` after connecting; `nil` means no `AUTH`.
    public var password: String?
    /// Database selected with `SELECT` after connecting (0 means no `SELECT`).
    public var database: Int

    /// Builds a URL from its parts.
    public init(host: String, port: Int = RedisURL.defaultPort, username: String? = nil, password: String? = nil, database: Int = 0) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
    }

    /// Builds a Unix domain socket URL from its parts.
    public init(socketPath: String, username: String? = nil, password: String? = nil, database: Int = 0) {
        self.init(host: "", port: Self.defaultPort, username: username, password: password, database: database)
        self.socketPath = socketPath
    }

    /// Parses `redis://[[user]:password@]host[:port][/db]` or
    /// `unix://[[user]:password@]/path[?db=N]`.
    ///
    /// - Throws: ``RedisError/invalidURL(url:reason:)`` naming the part that is wrong (scheme,
    ///   host, port, database, percent-encoding). The password never appears in the error.
    public init(_ string: String) throws {
        let shown = Self.redacted(string)
        func invalid(_ reason: String) -> RedisError { .invalidURL(url: shown, reason: reason) }

        guard let schemeEnd = Self.schemeSeparator(in: string) else {
            throw invalid("missing scheme: expected 'redis://host[:port][/db]'")
        }
        let scheme = string[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "redis" || scheme == "unix" else {
            if scheme == "rediss" { throw invalid("TLS ('rediss://') is not supported; use 'redis://'") }
            throw invalid("unsupported scheme '\(scheme)': expected 'redis' or 'unix'")
        }
        if scheme == "unix" {
            self = try Self.parseUnix(string[schemeEnd.upperBound...], invalid: invalid)
            return
        }
        var rest = string[schemeEnd.upperBound...]
        if rest.contains("?") || rest.contains("#") {
            throw invalid("query parameters and fragments are not supported")
        }

        var path: Substring = ""
        if let slash = rest.firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }

        var username: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            (username, password) = try Self.userInfo(rest[..<at], invalid: invalid)
            rest = rest[rest.index(after: at)...]
        }

        var host: Substring
        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw invalid("IPv6 host is missing its closing ']'") }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let afterHost = rest[rest.index(after: close)...]
            if !afterHost.isEmpty {
                guard afterHost.hasPrefix(":") else { throw invalid("unexpected '\(afterHost)' after IPv6 host") }
                portText = afterHost.dropFirst()
            }
        } else if let colon = rest.firstIndex(of: ":") {
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        } else {
            host = rest
        }
        guard !host.isEmpty else { throw invalid("missing host") }
        if host.contains(where: { $0 == " " || $0 == "@" || $0 == "/" }) { throw invalid("host '\(host)' contains an invalid character") }

        var port = Self.defaultPort
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value) else {
                throw invalid("port '\(portText)' is not a number between 1 and 65535")
            }
            port = value
        }

        var database = 0
        if !path.isEmpty {
            guard let value = Int(path), value >= 0 else {
                throw invalid("database '\(path)' is not a non-negative integer")
            }
            database = value
        }

        self.init(host: String(host), port: port, username: username, password: password, database: database)
    }

    /// `unix://[[user]:password@]/path[?db=N]`, after the scheme.
    private static func parseUnix(_ text: Substring, invalid: (String) -> RedisError) throws -> RedisURL {
        var rest = text
        if rest.contains("#") { throw invalid("fragments are not supported") }
        var database = 0
        if let question = rest.firstIndex(of: "?") {
            let query = rest[rest.index(after: question)...]
            rest = rest[..<question]
            guard query.hasPrefix("db="), let value = Int(query.dropFirst(3)), value >= 0 else {
                throw invalid("the only query a unix socket URL takes is '?db=N' (N a non-negative integer), not '?\(query)'")
            }
            database = value
        }
        guard let slash = rest.firstIndex(of: "/") else {
            throw invalid("missing socket path: expected 'unix:///absolute/path/to/redis.sock'")
        }
        var username: String?
        var password: String?
        let authority = rest[..<slash]
        if !authority.isEmpty {
            guard authority.last == "@" else {
                throw invalid("a unix socket URL has no host: expected 'unix:///path' or 'unix://:password@/path'")
            }
            (username, password) = try Self.userInfo(authority.dropLast(), invalid: invalid)
        }
        let path = rest[slash...]
        guard path.count > 1 else { throw invalid("missing socket path: expected 'unix:///absolute/path/to/redis.sock'") }
        return RedisURL(socketPath: String(path), username: username, password: password, database: database)
    }

    /// `user:password` (either part percent-encoded, the user optional) from a URL's user info.
    private static func userInfo(_ userInfo: Substring, invalid: (String) -> RedisError) throws -> (username: String?, password: String) {
        guard let colon = userInfo.firstIndex(of: ":") else {
            throw invalid("user name without a password: use 'redis://:password@host' or 'redis://user:password@host'")
        }
        let user = userInfo[..<colon]
        let secret = userInfo[userInfo.index(after: colon)...]
        guard let decodedUser = Self.percentDecoded(user) else { throw invalid("user name has invalid percent-encoding") }
        guard let decodedSecret = Self.percentDecoded(secret) else { throw invalid("password has invalid percent-encoding") }
        if decodedSecret.isEmpty { throw invalid("empty password after ':'") }
        return (decodedUser.isEmpty ? nil : decodedUser, decodedSecret)
    }

    /// `host:port` (IPv6 hosts in brackets), or the socket's path, used in logs and errors.
    public var address: String {
        if let socketPath = self.socketPath { return socketPath }
        return self.host.contains(":") ? "[\(self.host)]:\(self.port)" : "\(self.host):\(self.port)"
    }

    /// Replaces the user-info part of a URL string so that passwords never reach logs or errors.
    static func redacted(_ string: String) -> String {
        guard let schemeEnd = Self.schemeSeparator(in: string) else { return string }
        let afterScheme = string[schemeEnd.upperBound...]
        let authorityEnd = afterScheme.firstIndex(of: "/") ?? afterScheme.endIndex
        guard let at = afterScheme[..<authorityEnd].lastIndex(of: "@") else { return string }
        return String(string[..<schemeEnd.upperBound]) + "***" + String(afterScheme[at...])
    }

    /// The range of the first `://` (this module avoids Foundation, so no `range(of:)`).
    private static func schemeSeparator(in string: String) -> Range<String.Index>? {
        var index = string.startIndex
        while let colon = string[index...].firstIndex(of: ":") {
            let tail = string[colon...]
            if tail.hasPrefix("://") {
                return colon..<string.index(colon, offsetBy: 3)
            }
            index = string.index(after: colon)
        }
        return nil
    }

    private static func percentDecoded(_ text: Substring) -> String? {
        guard text.contains("%") else { return String(text) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(Self.hexValue), let low = iterator.next().flatMap(Self.hexValue) else {
                return nil
            }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

extension RedisURL: CustomStringConvertible {
    /// The URL with the password replaced by `***`, safe to log.
    public var description: String {
        var text = self.socketPath == nil ? "redis://" : "unix://"
        if self.username != nil || self.password != nil {
            text += "\(self.username ?? ""):***@"
        }
        text += self.address
        if self.database != 0 { text += self.socketPath == nil ? "/\(self.database)" : "?db=\(self.database)" }
        return text
    }
}
