import ArgumentParser
import CEpoll
import Foundation
import Glibc

/// What this box's loopback TCP does with no concentrator in the way: a client and a peer
/// process written directly on sockets and epoll(7): no TLS, no crypto, no Redis, no NIO.
/// It is the ceiling the concentrator's figures are read against (BENCHMARKS.md):
///
/// - `--shape login`: the byte exchange of a plain login (4 B initiation, 2 B initiation response
///   and 16 B challenge, 48 B answer, 1 B validation), each connection then held open — the `sessions`
///   benchmark without anything to compute;
/// - `--shape echo`: 40-byte ping-pongs on `--connections` connections kept busy — one
///   connection gives the cost of one hop (two wake-ups), many give the raw throughput.
struct LoopbackCeilingBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loopback-ceiling",
        abstract: "The box's own loopback TCP ceiling (a raw-socket client and peer, nothing else): login-shaped exchanges or ping-pongs per second."
    )

    enum Shape: String, ExpressibleByArgument {
        case login, echo
    }

    @Option(help: "login: connections doing a login's exchange; echo: ping-pongs on held connections.") var shape = Shape.login
    @Option(help: "login: connections to open (and hold).") var count = 15_000
    @Option(help: "login: exchanges in flight at once.") var concurrency = 256
    @Option(help: "echo: connections, each with one ping in flight.") var connections = 32
    @Option(help: "echo: seconds to run.") var seconds = 5.0

    func run() throws {
        let peer = try LoopbackPeerProcess.start(shape: self.shape)
        defer { peer.stop() }
        let clientBefore = Self.ownCPUSeconds()
        let peerBefore = peer.cpuSeconds()
        let measured: (operations: Int, seconds: Double)
        switch self.shape {
        case .login: measured = try Self.logins(port: peer.port, count: self.count, concurrency: self.concurrency)
        case .echo: measured = try Self.pingPongs(port: peer.port, connections: self.connections, seconds: self.seconds)
        }
        let clientCPU = Self.ownCPUSeconds() - clientBefore
        let peerCPU = peer.cpuSeconds() - peerBefore
        let perOperation = { (cpu: Double) in String(format: "%.1f", measured.operations > 0 ? cpu / Double(measured.operations) * 1_000_000 : 0) }
        BenchmarkReport(
            name: "loopback-ceiling",
            figures: [
                ("shape", self.shape.rawValue), ("operations", String(measured.operations)),
                ("seconds", String(format: "%.3f", measured.seconds)),
                ("per_second", String(format: "%.0f", Double(measured.operations) / measured.seconds)),
                ("client_cpu_us_per_op", perOperation(clientCPU)), ("peer_cpu_us_per_op", perOperation(peerCPU)),
            ]
        ).print()
    }

    /// Opens `count` connections, `concurrency` at a time, each doing the login exchange; they
    /// stay open until the end, like held sessions.
    static func logins(port: UInt16, count: Int, concurrency: Int) throws -> (operations: Int, seconds: Double) {
        let poller = PollSet()
        var stage: [Int32: Int] = [:]
        var received: [Int32: Int] = [:]
        var held: [Int32] = []
        held.reserveCapacity(count)
        var started = 0
        var done = 0
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256, alignment: 8)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        func startOne() throws {
            // Sources 127.201.x.y, as `sessions` spreads its own over 127.<worker>.x.y.
            let socket = try LoopbackSocket.connect(port: port, from: LoopbackSocket.source(network: 201, index: started))
            stage[socket] = 0
            received[socket] = 0
            poller.add(socket, events: PollSet.writable | PollSet.readable)
            started += 1
        }
        let began = Date()
        while started < min(concurrency, count) { try startOne() }
        while done < count {
            for (socket, events) in try poller.wait() {
                if stage[socket] == 0 {
                    guard events & PollSet.writable != 0 else { continue }
                    _ = write(socket, buffer.baseAddress, 4)
                    stage[socket] = 1
                    poller.modify(socket, events: PollSet.readable)
                    continue
                }
                let bytes = read(socket, buffer.baseAddress, buffer.count)
                guard bytes > 0 else { throw RawSocketError.peerClosed }
                received[socket, default: 0] += bytes
                if stage[socket] == 1, received[socket, default: 0] >= 18 {
                    _ = write(socket, buffer.baseAddress, 48)
                    stage[socket] = 2
                    received[socket] = 0
                } else if stage[socket] == 2, received[socket, default: 0] >= 1 {
                    stage[socket] = 3
                    poller.remove(socket)
                    held.append(socket)
                    done += 1
                    if started < count { try startOne() }
                }
            }
        }
        let elapsed = Date().timeIntervalSince(began)
        for socket in held { close(socket) }
        return (done, elapsed)
    }

    /// Keeps one 40-byte ping in flight on each of `connections` connections for `seconds`.
    static func pingPongs(port: UInt16, connections: Int, seconds: Double) throws -> (operations: Int, seconds: Double) {
        let poller = PollSet()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 8)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        var sockets: [Int32] = []
        for _ in 0..<connections {
            let socket = try LoopbackSocket.connect(port: port)
            sockets.append(socket)
            poller.add(socket, events: PollSet.writable)
        }
        // Wait for every connection before the clock starts.
        var connected = 0
        while connected < connections {
            for (socket, _) in try poller.wait() {
                poller.modify(socket, events: PollSet.readable)
                connected += 1
            }
        }
        for socket in sockets { _ = write(socket, buffer.baseAddress, 40) }
        var answered = 0
        let began = Date()
        var elapsed = 0.0
        while elapsed < seconds {
            for (socket, _) in try poller.wait(timeoutMilliseconds: 100) {
                let count = read(socket, buffer.baseAddress, buffer.count)
                guard count > 0 else { throw RawSocketError.peerClosed }
                answered += count / 40
                _ = write(socket, buffer.baseAddress, 40)
            }
            elapsed = Date().timeIntervalSince(began)
        }
        for socket in sockets { close(socket) }
        return (answered, elapsed)
    }

    static func ownCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1_000_000
    }
}

/// The peer side (a separate process: one process may not hold both ends of 15 000 connections
/// under the 20 000-file limit). Prints the port it listens on, then serves until killed.
struct LoopbackPeerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "loopback-peer", abstract: "(internal) the peer of `loopback-ceiling`.", shouldDisplay: false)

    @Option var shape = LoopbackCeilingBenchmark.Shape.login

    func run() throws {
        let listener = try LoopbackSocket.listen()
        FileHandle.standardOutput.write(Data("\(listener.port)\n".utf8))
        let poller = PollSet()
        poller.add(listener.socket, events: PollSet.readable)
        var stage: [Int32: Int] = [:]
        var received: [Int32: Int] = [:]
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 8)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        while true {
            for (socket, _) in try poller.wait() {
                if socket == listener.socket {
                    while case let accepted = accept(listener.socket, nil, nil), accepted >= 0 {
                        _ = fcntl(accepted, F_SETFL, O_NONBLOCK)
                        LoopbackSocket.noDelay(accepted)
                        stage[accepted] = 0
                        received[accepted] = 0
                        poller.add(accepted, events: PollSet.readable)
                    }
                    continue
                }
                let count = read(socket, buffer.baseAddress, buffer.count)
                guard count > 0 else {
                    poller.remove(socket)
                    close(socket)
                    stage[socket] = nil
                    received[socket] = nil
                    continue
                }
                switch self.shape {
                case .echo:
                    _ = write(socket, buffer.baseAddress, count)
                case .login:
                    received[socket, default: 0] += count
                    if stage[socket] == 0, received[socket, default: 0] >= 4 {
                        _ = write(socket, buffer.baseAddress, 18)
                        stage[socket] = 1
                        received[socket, default: 0] -= 4
                    }
                    if stage[socket] == 1, received[socket, default: 0] >= 48 {
                        _ = write(socket, buffer.baseAddress, 1)
                        // Logged in: held, no longer watched (the set stays a few hundred).
                        poller.remove(socket)
                        stage[socket] = nil
                        received[socket] = nil
                    }
                }
            }
        }
    }
}

/// Why a raw-socket client (the loopback ceiling, ``RawLoginClient``, ``RawPeerLoop``) stopped.
enum RawSocketError: Error, CustomStringConvertible {
    case system(String, Int32)
    case peerClosed
    case peerDidNotStart
    case failed(String)

    var description: String {
        switch self {
        case .system(let call, let code): "\(call) failed: \(String(cString: strerror(code)))"
        case .peerClosed: "the peer closed a connection"
        case .peerDidNotStart: "the peer process did not print its port"
        case .failed(let reason): reason
        }
    }
}

/// The `loopback-peer` child process.
struct LoopbackPeerProcess {
    let process: Process
    let port: UInt16

    static func start(shape: LoopbackCeilingBenchmark.Shape) throws -> LoopbackPeerProcess {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = ["loopback-peer", "--shape", shape.rawValue]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        var reader = LineReader(handle: pipe.fileHandleForReading)
        guard let line = reader.nextLine(), let port = UInt16(line) else {
            process.terminate()
            throw RawSocketError.peerDidNotStart
        }
        return LoopbackPeerProcess(process: process, port: port)
    }

    /// User + system CPU of the peer so far, from /proc (clock ticks of 10 ms).
    func cpuSeconds() -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(self.process.processIdentifier)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After the command name: state is field 3, utime 14 and stime 15 (1-based).
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    func stop() {
        kill(self.process.processIdentifier, SIGKILL)
        self.process.waitUntilExit()
    }
}

/// Non-blocking IPv4 loopback sockets with Nagle off.
enum LoopbackSocket {
    static func address(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return address
    }

    /// The `index`-th of 62 500 source addresses 127.`network`.x.y (y never 0), host byte order.
    static func source(network: UInt8, index: Int) -> UInt32 {
        UInt32(127) << 24 | UInt32(network) << 16 | UInt32((index / 250) % 250) << 8 | UInt32(1 + index % 250)
    }

    /// A dotted IPv4 address in host byte order.
    static func ipv4(_ host: String) throws(RawSocketError) -> UInt32 {
        var address = in_addr()
        guard inet_pton(AF_INET, host, &address) == 1 else { throw .failed("raw-socket clients need an IPv4 address, not \(host)") }
        return UInt32(bigEndian: address.s_addr)
    }

    static func noDelay(_ socket: Int32) {
        var one: Int32 = 1
        setsockopt(socket, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Connects (non-blocking) to `host`:`port`, IPv4 addresses in host byte order. With
    /// `source`, binds that address first: spreading connections over many source addresses
    /// in 127.0.0.0/8, as the `sessions` workers do, keeps the kernel from searching a nearly
    /// full ephemeral port range for each one (15 000 connections from 127.0.0.1 cost the
    /// client ≈ 100 µs of CPU each here instead of ≈ 60, and run out of ports on a box that
    /// has just closed 95 000 sessions).
    static func connect(to host: UInt32 = 0x7F00_0001, port: UInt16, from source: UInt32? = nil) throws -> Int32 {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard socket >= 0 else { throw RawSocketError.system("socket", errno) }
        self.noDelay(socket)
        if let source {
            var local = self.address(port: 0)
            local.sin_addr.s_addr = source.bigEndian
            let bound = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0 else {
                let code = errno
                close(socket)
                throw RawSocketError.system("bind", code)
            }
        }
        var address = self.address(port: port)
        address.sin_addr.s_addr = host.bigEndian
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 || errno == EINPROGRESS else {
            let code = errno
            close(socket)
            throw RawSocketError.system("connect", code)
        }
        return socket
    }

    /// A listening socket on an ephemeral port of 127.0.0.1.
    static func listen() throws -> (socket: Int32, port: UInt16) {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard socket >= 0 else { throw RawSocketError.system("socket", errno) }
        var address = self.address(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                Glibc.bind(socket, pointer, length) == 0 && Glibc.listen(socket, 4096) == 0 && getsockname(socket, pointer, &length) == 0
            }
        }
        guard bound else { throw RawSocketError.system("bind/listen", errno) }
        return (socket, UInt16(bigEndian: address.sin_port))
    }
}

/// The sockets a raw client or peer watches, on epoll(7) (level-triggered, so it behaves as
/// poll(2) would, but each wait costs the ready sockets only, not every socket watched: a
/// sessions worker keeps 256 logins in flight). Events use poll's bit values, which epoll
/// shares (`EPOLLIN` = `POLLIN`, …).
final class PollSet {
    static let readable = Int16(POLLIN)
    static let writable = Int16(POLLOUT)
    private let descriptor: Int32
    private var ready: [epoll_event]

    init(capacity: Int = 512) {
        self.descriptor = epoll_create1(Int32(EPOLL_CLOEXEC))
        precondition(self.descriptor >= 0, "epoll_create1: \(String(cString: strerror(errno)))")
        self.ready = Array(repeating: epoll_event(), count: capacity)
    }

    deinit {
        close(self.descriptor)
    }

    private func control(_ operation: Int32, _ socket: Int32, events: Int16) {
        var event = epoll_event()
        event.events = UInt32(UInt16(bitPattern: events))
        event.data.fd = socket
        _ = epoll_ctl(self.descriptor, operation, socket, &event)
    }

    func add(_ socket: Int32, events: Int16) {
        self.control(EPOLL_CTL_ADD, socket, events: events)
    }

    func modify(_ socket: Int32, events: Int16) {
        self.control(EPOLL_CTL_MOD, socket, events: events)
    }

    func remove(_ socket: Int32) {
        self.control(EPOLL_CTL_DEL, socket, events: 0)
    }

    /// Ready sockets and their events; empty after `timeoutMilliseconds` (-1: wait forever).
    func wait(timeoutMilliseconds: Int32 = -1) throws -> [(Int32, Int16)] {
        let count = epoll_wait(self.descriptor, &self.ready, Int32(self.ready.count), timeoutMilliseconds)
        if count < 0 {
            if errno == EINTR { return [] }
            throw RawSocketError.system("epoll_wait", errno)
        }
        return self.ready[0..<Int(count)].map { ($0.data.fd, Int16(truncatingIfNeeded: $0.events)) }
    }
}
