import Foundation
import NIOCore
import NIOPosix
import RedisBus
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A private `redis-server` for one test: started on a free port in the foreground as a child
/// process, with no persistence, and killed when the test is done.
///
/// ```swift
/// let redis = try await TestRedis.start()
/// defer { redis.stop() }
/// let client = RedisClient(configuration: .init(url: redis.redisURL))
/// ```
///
/// `stop()` is synchronous so it fits in `defer`; `deinit` kills the server too, as a last
/// resort. ``restart(empty:)`` kills the server and starts a new one on the same port, the way
/// a crashed Redis comes back (empty, unless asked to keep a snapshot).
public final class TestRedis: @unchecked Sendable {
    // @unchecked Sendable: the only mutable state, `process`, is read and written exclusively
    // while holding `lock`; every other stored property is an immutable `let` of a Sendable type.

    /// Errors starting the server, with what was tried.
    public struct StartError: Error, CustomStringConvertible {
        /// What went wrong, including the port and the server's log file.
        public var description: String
    }

    /// The path of the server binary.
    public static let executable = "/usr/bin/redis-server"

    /// The TCP port the server listens on (127.0.0.1).
    public let port: Int
    /// `redis://127.0.0.1:<port>`.
    public let url: String
    /// ``url`` parsed.
    public let redisURL: RedisURL
    /// The server's working directory (log file, snapshot); removed by ``stop()``.
    public let directory: String
    /// The Unix domain socket the server also listens on, when started with `unixSocket`.
    public let socketPath: String?

    private let lock = NSLock()
    private var process: Process?

    private init(port: Int, directory: String, socketPath: String?, process: Process) {
        self.port = port
        self.url = "redis://127.0.0.1:\(port)"
        self.redisURL = RedisURL(host: "127.0.0.1", port: port)
        self.directory = directory
        self.socketPath = socketPath
        self.process = process
    }

    deinit {
        self.kill(removeDirectory: true)
    }

    /// Starts a server on a free port and waits until it answers `PING`.
    ///
    /// Retries on another port if the chosen one was taken in the meantime.
    /// - Parameter unixSocket: also listen on `<directory>/redis.sock` (``socketPath``).
    /// - Throws: ``StartError`` when `redis-server` cannot be started or never answers.
    public static func start(unixSocket: Bool = false) async throws -> TestRedis {
        var lastError: (any Error)?
        for _ in 0..<5 {
            let port = try FreePort.tcp()
            let directory = FileManager.default.temporaryDirectory
                .appendingPathComponent("test-redis-\(port)-\(UUID().uuidString.prefix(8))").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let socketPath = unixSocket ? "\(directory)/redis.sock" : nil
            do {
                let process = try await self.launch(port: port, directory: directory, socketPath: socketPath)
                return TestRedis(port: port, directory: directory, socketPath: socketPath, process: process)
            } catch {
                lastError = error
                try? FileManager.default.removeItem(atPath: directory)
            }
        }
        throw lastError ?? StartError(description: "redis-server did not start")
    }

    /// Kills the server (SIGKILL), waits for it to exit and removes its directory. Idempotent.
    public func stop() {
        self.kill(removeDirectory: true)
    }

    /// Kills the server and starts a new one on the same port, then waits until it answers.
    ///
    /// - Parameter empty: `true` (default) comes back with no data, like a Redis without
    ///   persistence after a crash; `false` saves a snapshot first and loads it on start.
    public func restart(empty: Bool = true) async throws {
        if empty {
            let snapshot = URL(fileURLWithPath: self.directory).appendingPathComponent("dump.rdb").path
            try? FileManager.default.removeItem(atPath: snapshot)
            self.kill(removeDirectory: false)
        } else {
            try await self.stopKeepingData()
        }
        try await self.resume()
    }

    /// An outage: saves a snapshot, then kills the server; ``resume()`` brings it back with
    /// that data. Until then every connection to its port is refused.
    public func stopKeepingData() async throws {
        let connection = try await RedisConnection.connect(to: self.redisURL)
        try await connection.send(["SAVE"])
        await connection.close()
        self.kill(removeDirectory: false)
    }

    /// Starts the server again on the same port (after ``stopKeepingData()``), with what its
    /// directory holds, and waits until it answers.
    public func resume() async throws {
        try FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true)
        let process = try await Self.launch(port: self.port, directory: self.directory, socketPath: self.socketPath)
        self.lock.withLock { self.process = process }
    }

    /// Whether the server process is running.
    public var isRunning: Bool {
        self.lock.withLock { self.process?.isRunning ?? false }
    }

    private func kill(removeDirectory: Bool) {
        let process = self.lock.withLock { () -> Process? in
            defer { self.process = nil }
            return self.process
        }
        if let process, process.isRunning {
            #if canImport(Glibc) || canImport(Musl) || canImport(Darwin)
            _ = SystemKill.send(SIGKILL, to: process.processIdentifier)
            #endif
            process.waitUntilExit()
        }
        if removeDirectory {
            try? FileManager.default.removeItem(atPath: self.directory)
        }
    }

    private static func launch(port: Int, directory: String, socketPath: String?) async throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: self.executable)
        process.arguments = [
            "--port", "\(port)",
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", directory,
            "--dbfilename", "dump.rdb",
            "--logfile", "\(directory)/redis.log",
            "--daemonize", "no",
        ] + (socketPath.map { ["--unixsocket", $0, "--unixsocketperm", "700"] } ?? [])
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw StartError(description: "cannot run \(self.executable): \(error)")
        }

        let url = RedisURL(host: "127.0.0.1", port: port)
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            guard process.isRunning else {
                throw StartError(description: "redis-server exited at start on port \(port); see \(directory)/redis.log")
            }
            if let connection = try? await RedisConnection.connect(
                to: url,
                configuration: .init(connectTimeout: .milliseconds(500), commandTimeout: .seconds(2))
            ) {
                let reply = try? await connection.send(["PING"])
                await connection.close()
                if reply == .simpleString("PONG") {
                    return process
                }
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        if process.isRunning {
            _ = SystemKill.send(SIGKILL, to: process.processIdentifier)
            process.waitUntilExit()
        }
        throw StartError(description: "redis-server on port \(port) did not answer PING within 10 s; see \(directory)/redis.log")
    }
}

/// Free local ports for servers started by tests.
public enum FreePort {
    /// Errors from the socket calls, with `errno`.
    public struct Failure: Error, CustomStringConvertible {
        /// The call that failed and the error number.
        public var description: String
    }

    /// Ports are handed out below the kernel's ephemeral range (32768-60999 here), where
    /// `bind(0)` and outgoing connections take theirs, from one counter per test process: a port
    /// given to one test is never given to another running alongside it, and no socket of
    /// another test can take it between the check and the service binding it. (Binding port 0
    /// and closing it, as before, let a parallel test's process grab the same port.)
    private static let range = 20_000..<32_000
    private static let next = Atomic<Int>(Int.random(in: 0..<12_000))

    /// A TCP port on 127.0.0.1, free for TCP and UDP when checked, not handed out before by this
    /// process.
    public static func tcp() throws -> Int {
        try self.take()
    }

    /// A UDP port on 127.0.0.1 (the same guarantees as ``tcp()``).
    public static func udp() throws -> Int {
        try self.take()
    }

    private static func take() throws -> Int {
        for _ in 0..<Self.range.count {
            let offset = Self.next.add(1, ordering: .relaxed).oldValue % Self.range.count
            let port = Self.range.lowerBound + offset
            if Self.isFree(port, type: Int32(SOCK_STREAM.rawValue)) && Self.isFree(port, type: Int32(SOCK_DGRAM.rawValue)) {
                return port
            }
        }
        throw Failure(description: "no free port in \(Self.range)")
    }

    private static func isFree(_ port: Int, type: Int32) -> Bool {
        let descriptor = socket(AF_INET, type, 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        return bound == 0
    }
}

/// `kill(2)` under a name that does not clash with ``TestRedis``'s own `kill` method.
private enum SystemKill {
    static func send(_ signal: Int32, to pid: Int32) -> Int32 {
        kill(pid, signal)
    }
}
