import Foundation
import Glibc
import Histogram
import IoTSocket
import NIOCore

/// Plain logins from raw sockets and epoll(7), for `sessions --client raw`: the same bytes as
/// ``BenchLoginHandler`` (initiation, challenge answer by HMAC, validation) without NIO's
/// channel and pipeline per connection. The client shares the box's 2 cores with the gateway
/// it measures; this one spends about half the CPU per login the NIO client does, so more of
/// the cores go to the gateway. No TLS (the NIO client does that).
struct RawLoginClient {
    struct Outcome {
        var sockets: [Int32] = []
        /// Bytes that arrived after the validation byte, by socket (the first transmissions of
        /// the session), for a caller that goes on reading the session.
        var leftovers: [Int32: [UInt8]] = [:]
        var failed = 0
        var firstError: String?
        var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
    }

    /// One connection in set-up.
    private struct Login {
        let device: Int
        let began: ContinuousClock.Instant
        var initiationSent = false
        var answered = false
        var received: [UInt8] = []
    }

    let host: UInt32
    let ports: [Int]
    let worker: Int
    /// The UID and key device `n` logs in with.
    let credentials: (Int) -> (UID, AuthKey)

    /// - Parameters:
    ///   - host: the gateway's IPv4 address, dotted.
    ///   - credentials: the bench ACL's devices (`bench-<n>`, one key) by default.
    init(host: String, ports: [Int], worker: Int, credentials: @escaping (Int) -> (UID, AuthKey) = { (BenchACL.uid($0), BenchACL.key) }) throws {
        self.host = try LoopbackSocket.ipv4(host)
        self.ports = ports
        self.worker = worker
        self.credentials = credentials
    }

    /// Logs devices `first ..< first + count` in, `concurrency` at a time, and returns the
    /// sockets of the sessions established (held open; the caller closes them).
    func logIn(first: Int, count: Int, concurrency: Int) -> Outcome {
        var outcome = Outcome()
        outcome.sockets.reserveCapacity(count)
        let poller = PollSet()
        var logins: [Int32: Login] = [:]
        var next = 0
        var finished = 0
        var initiation = ByteBuffer()
        Initiation(tls: false, version: Initiation.currentVersion, maxTransmissionLength: 0).write(to: &initiation)
        let initiationBytes = Array(initiation.readableBytesView)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 512, alignment: 8)
        defer { buffer.deallocate() }

        func fail(_ socket: Int32?, _ reason: String) {
            if let socket {
                poller.remove(socket)
                logins[socket] = nil
                close(socket)
            }
            outcome.failed += 1
            finished += 1
            if outcome.firstError == nil { outcome.firstError = reason }
        }
        func startNext() {
            while next < count, logins.count < concurrency {
                let device = first + next
                next += 1
                // The same source addresses as the NIO client: 127.<worker>.x.y.
                let source = LoopbackSocket.source(network: UInt8(1 + self.worker % 200), index: device)
                do {
                    let socket = try LoopbackSocket.connect(to: self.host, port: UInt16(self.ports[device % self.ports.count]), from: source)
                    logins[socket] = Login(device: device, began: .now)
                    poller.add(socket, events: PollSet.writable | PollSet.readable)
                } catch {
                    fail(nil, "\(error)")
                }
            }
        }

        startNext()
        while finished < count {
            let ready: [(Int32, Int16)]
            do {
                ready = try poller.wait()
            } catch {
                outcome.firstError = outcome.firstError ?? "\(error)"
                break
            }
            for (socket, events) in ready {
                guard var login = logins[socket] else { continue }
                if !login.initiationSent {
                    guard events & PollSet.writable != 0 else {
                        fail(socket, "connect failed (poll events \(events))")
                        continue
                    }
                    guard write(socket, initiationBytes, initiationBytes.count) == initiationBytes.count else {
                        fail(socket, "initiation not written: \(String(cString: strerror(errno)))")
                        continue
                    }
                    login.initiationSent = true
                    logins[socket] = login
                    poller.modify(socket, events: PollSet.readable)
                    continue
                }
                let bytes = read(socket, buffer.baseAddress, buffer.count)
                guard bytes > 0 else {
                    fail(socket, "connection closed during set-up")
                    continue
                }
                login.received.append(contentsOf: buffer[0..<bytes])
                if !login.answered {
                    // Initiation response (2 bytes when accepted) and the 16-byte challenge.
                    var incoming = ByteBuffer(bytes: login.received)
                    guard let response = try? InitiationResponse.read(from: &incoming) else {
                        logins[socket] = login
                        continue
                    }
                    guard response.ok, response.rule == .none else {
                        fail(socket, "initiation refused (\(response))")
                        continue
                    }
                    guard let challenge = Challenge.read(from: &incoming) else {
                        logins[socket] = login
                        continue
                    }
                    var answer = ByteBuffer()
                    let (uid, key) = self.credentials(login.device)
                    ChallengeAnswer(uid: uid, key: key, challenge: challenge).write(to: &answer)
                    let answerBytes = Array(answer.readableBytesView)
                    guard write(socket, answerBytes, answerBytes.count) == answerBytes.count else {
                        fail(socket, "answer not written: \(String(cString: strerror(errno)))")
                        continue
                    }
                    login.answered = true
                    login.received = Array(incoming.readableBytesView)
                }
                guard let validation = login.received.first else {
                    logins[socket] = login
                    continue
                }
                guard validation == Validation.accepted.rawValue else {
                    fail(socket, "validation 0x\(String(validation, radix: 16))")
                    continue
                }
                // Logged in: held, no longer watched.
                poller.remove(socket)
                logins[socket] = nil
                outcome.sockets.append(socket)
                if login.received.count > 1 { outcome.leftovers[socket] = Array(login.received.dropFirst()) }
                let elapsed = ContinuousClock.now - login.began
                _ = outcome.histogram.record(UInt64(elapsed.components.seconds) * 1_000_000 + UInt64(elapsed.components.attoseconds / 1_000_000_000_000))
                finished += 1
            }
            startNext()
        }
        return outcome
    }

    /// Writes a Ping to every held session (a session that pings is not idle to the gateway);
    /// the Pongs wait unread in the socket buffers, a few bytes each.
    static func ping(_ sockets: [Int32]) {
        var frame = ByteBuffer()
        Transmission.ping.write(to: &frame)
        let bytes = Array(frame.readableBytesView)
        for socket in sockets {
            _ = write(socket, bytes, bytes.count)
        }
    }

    /// Ends every session with Close 0x01 (a wanted disconnect: dropped at once, not kept for
    /// `KeepSessionSec`), then closes the socket.
    static func closeWanted(_ sockets: [Int32]) {
        var frame = ByteBuffer()
        Transmission.close(.maintenance).write(to: &frame)
        let bytes = Array(frame.readableBytesView)
        for socket in sockets {
            _ = write(socket, bytes, bytes.count)
            close(socket)
        }
    }

    /// The sessions the gateway has not closed: nothing to read yet, or Pongs, but not the end
    /// of the stream or an error.
    static func stillOpen(_ sockets: [Int32]) -> Int {
        var byte: UInt8 = 0
        var open = 0
        for socket in sockets {
            let peeked = recv(socket, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
            if peeked > 0 || (peeked < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) { open += 1 }
        }
        return open
    }
}
