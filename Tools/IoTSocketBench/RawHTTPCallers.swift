import Foundation
import Glibc
import IoTSocket
import NIOCore

/// `rtt-http --client raw`: HTTP/1.1 keep-alive connections to the API on raw sockets, driven by
/// the same ``RawPeerLoop`` that echoes for the devices, one thread for all. Each connection has
/// at most one call in flight (no pipelining), as the NIO client's pool does.
final class RawHTTPCallers {
    private let loop: RawPeerLoop
    private var connections: [RawPeer] = []
    private var index: [Int32: Int] = [:]
    /// The call in flight on each connection: when it was due.
    private var inFlight: [ContinuousClock.Instant?] = []
    private var idle: [Int] = []
    /// `POST /request` for each device, whole (head and body).
    private let requests: [[UInt8]]
    private var nextDevice = 0

    /// Opens `count` connections to `host`:`port` (IPv4, dotted), waiting for them to connect.
    init(loop: RawPeerLoop, host: String, port: Int, count: Int, bearer: String, bodies: [String]) throws {
        self.loop = loop
        self.requests = bodies.map { body in
            Array(
                ("POST /request HTTP/1.1\r\nHost: \(host):\(port)\r\nAuthorization: Bearer \(bearer)\r\n"
                    + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)").utf8)
        }
        let address = try LoopbackSocket.ipv4(host)
        for number in 0..<count {
            let socket = try LoopbackSocket.connect(to: address, port: UInt16(port))
            try Self.waitConnected(socket)
            let peer = RawPeer(socket: socket)
            self.index[socket] = number
            self.connections.append(peer)
            self.inFlight.append(nil)
            self.idle.append(number)
            loop.addDriver(peer)
        }
    }

    deinit {
        for peer in self.connections { close(peer.socket) }
    }

    private static func waitConnected(_ socket: Int32) throws {
        var entry = pollfd(fd: socket, events: PollSet.writable, revents: 0)
        var failure: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard poll(&entry, 1, 5000) == 1, getsockopt(socket, SOL_SOCKET, SO_ERROR, &failure, &length) == 0, failure == 0 else {
            close(socket)
            throw RawSocketError.failed("cannot connect to the API: \(String(cString: strerror(failure != 0 ? failure : ETIMEDOUT)))")
        }
    }

    /// Closed loop for `duration` (every connection calls again as soon as its answer is in;
    /// `rate` 0), or an open loop of `duration × rate` calls, each due at its time and timed
    /// from then, waiting for a free connection when all are busy. Ends when every call made
    /// is answered.
    func run(for duration: Duration, rate: Int) throws -> CallTally {
        var tally = CallTally()
        let start = ContinuousClock.now
        let end = start + duration
        let interval = Duration.seconds(1) / max(1, rate)
        let total = rate > 0 ? Int(duration / interval) : 0
        var scheduled = 0
        var waiting: [ContinuousClock.Instant] = []
        var waitingFrom = 0
        if rate == 0 {
            while !self.idle.isEmpty { try self.call(due: start) }
        }
        while true {
            let now = ContinuousClock.now
            if rate > 0 {
                while scheduled < total, start + interval * scheduled <= now {
                    waiting.append(start + interval * scheduled)
                    scheduled += 1
                }
                while waitingFrom < waiting.count, !self.idle.isEmpty {
                    try self.call(due: waiting[waitingFrom])
                    waitingFrom += 1
                }
                if scheduled == total, waitingFrom == waiting.count, self.idle.count == self.connections.count { break }
            } else if now >= end, self.idle.count == self.connections.count {
                break
            }
            try self.loop.turn(timeoutMilliseconds: rate > 0 ? 1 : 20) { peer, now in
                guard let number = self.index[peer.socket] else { return }
                while let (status, body) = try Self.response(in: &peer.input) {
                    guard let due = self.inFlight[number] else { throw RawSocketError.failed("an answer for no call") }
                    self.inFlight[number] = nil
                    let outcome: CallOutcome = status == 200 ? .code((try? JSONValue(parsing: body))?["Code"]?.intValue ?? -1) : .status(status)
                    tally.record(outcome, latency: now - due)
                    self.idle.append(number)
                    if rate == 0, now < end { try self.call(due: now) }
                }
            }
        }
        tally.elapsed = ContinuousClock.now - start
        return tally
    }

    /// Sends the next device's call on a free connection.
    private func call(due: ContinuousClock.Instant) throws {
        let number = self.idle.removeLast()
        let peer = self.connections[number]
        self.inFlight[number] = due
        peer.output.writeBytes(self.requests[self.nextDevice % self.requests.count])
        self.nextDevice += 1
        try self.loop.flush(peer)
    }

    /// One whole response at the front of `buffer`, consumed: its status and body; nil while
    /// incomplete. The API states a `Content-Length` on every answer.
    static func response(in buffer: inout ByteBuffer) throws(RawSocketError) -> (status: Int, body: ByteBuffer)? {
        let view = buffer.readableBytesView
        guard let headEnd = view.firstRange(of: [13, 10, 13, 10]) else { return nil }
        let headLength = headEnd.upperBound - view.startIndex
        let head = buffer.getString(at: buffer.readerIndex, length: headLength) ?? ""
        let lines = head.split(separator: "\r\n")
        guard let statusLine = lines.first, statusLine.hasPrefix("HTTP/1.1 "), let status = Int(statusLine.dropFirst(9).prefix(3)) else {
            throw RawSocketError.failed("not an HTTP/1.1 answer: \(head.prefix(80))")
        }
        guard
            let lengthLine = lines.first(where: { $0.lowercased().hasPrefix("content-length:") }),
            let length = Int(lengthLine.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces))
        else {
            throw RawSocketError.failed("an answer without Content-Length: \(head.prefix(120))")
        }
        guard buffer.readableBytes >= headLength + length else { return nil }
        buffer.moveReaderIndex(forwardBy: headLength)
        let body = buffer.readSlice(length: length) ?? ByteBuffer()
        return (status, body)
    }
}
