import AsyncHTTPClient
import Foundation
import NIOCore

/// One real service executable started for a test, with its output captured to a file.
///
/// Tests start services exactly as operators do (`<name> --config FILE`), talk to them over
/// real sockets, and stop them with signals. Always call `stop()` (or `kill()`), typically in a
/// `defer`; the process is also killed when the value is deinitialised, so a failing test
/// never leaves an orphan behind.
public final class ServiceProcess: @unchecked Sendable {
    // @unchecked: `process` is created in init and only read afterwards; Foundation's Process
    // is thread-safe for terminate/waitUntilExit/isRunning.
    public let name: String
    public let logFile: URL
    private let process: Process

    /// The folder holding the built executables: `IOTS_BIN_DIR`, or the folder of the running
    /// test binary (SwiftPM puts both in the same build folder).
    public static var binaryFolder: URL {
        if let folder = ProcessInfo.processInfo.environment["IOTS_BIN_DIR"] {
            return URL(fileURLWithPath: folder)
        }
        let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var folder = me.deletingLastPathComponent()
        // Inside an .xctest bundle on Darwin the binary sits deeper; on Linux it is a file.
        while folder.pathComponents.count > 1 && folder.lastPathComponent.hasSuffix(".xctest") {
            folder = folder.deletingLastPathComponent()
        }
        return folder
    }

    /// Starts `name` with `arguments` and extra environment variables.
    public init(_ name: String, arguments: [String], environment: [String: String] = [:]) throws {
        self.name = name
        self.logFile = FileManager.default.temporaryDirectory.appendingPathComponent("iots-\(name)-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: self.logFile.path, contents: nil)
        let handle = try FileHandle(forWritingTo: self.logFile)
        let process = Process()
        process.executableURL = Self.binaryFolder.appendingPathComponent(name)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for key in env.keys where key.hasPrefix("IOTS_") && key != "IOTS_BIN_DIR" {
            env[key] = nil
        }
        env.merge(environment) { _, new in new }
        process.environment = env
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        self.process = process
    }

    deinit {
        if self.process.isRunning {
            Foundation.kill(self.process.processIdentifier, SIGKILL)
        }
    }

    public var pid: Int32 { self.process.processIdentifier }
    public var isRunning: Bool { self.process.isRunning }

    /// Everything the process printed so far.
    public var output: String {
        (try? String(contentsOf: self.logFile, encoding: .utf8)) ?? ""
    }

    /// Sends SIGTERM and waits for the exit, at most `timeout`; returns the exit status, or
    /// nil when the process had to be killed.
    @discardableResult
    public func stop(timeout: Duration = .seconds(10)) async -> Int32? {
        guard self.process.isRunning else { return self.process.terminationStatus }
        Foundation.kill(self.process.processIdentifier, SIGTERM)
        if await self.waitForExit(timeout: timeout) {
            return self.process.terminationStatus
        }
        self.kill()
        return nil
    }

    /// SIGKILL: the crash case (nothing graceful happens).
    public func kill() {
        guard self.process.isRunning else { return }
        Foundation.kill(self.process.processIdentifier, SIGKILL)
        self.process.waitUntilExit()
    }

    /// Waits until the process exits by itself; true if it did within `timeout`.
    public func waitForExit(timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while self.process.isRunning {
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return true
    }

    /// The exit status once the process has ended.
    public var exitStatus: Int32? {
        self.process.isRunning ? nil : self.process.terminationStatus
    }

    /// Polls `GET http://127.0.0.1:<port>/ready` until it answers 200.
    /// - Throws: `TestSupportError.notReady` with the process output when it does not in time.
    public func waitUntilReady(adminPort: Int, timeout: Duration = .seconds(20)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard self.process.isRunning else { break }
            if let answer = try? await AdminProbe.get(port: adminPort, path: "/ready"), answer.status == 200 {
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestSupportError.notReady(service: self.name, output: self.output)
    }
}

/// Failures of the harness itself, with what the process printed.
public enum TestSupportError: Error, CustomStringConvertible {
    case notReady(service: String, output: String)
    case timeout(String)

    public var description: String {
        switch self {
        case .notReady(let service, let output): "\(service) did not become ready; its output:\n\(output)"
        case .timeout(let what): "timed out: \(what)"
        }
    }
}
