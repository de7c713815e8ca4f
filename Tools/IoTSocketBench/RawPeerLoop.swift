import Glibc
import IoTSocket
import NIOCore

/// One non-blocking socket of a raw client: what arrived and is not parsed yet, and what is to
/// be sent that the kernel has not taken yet.
final class RawPeer {
    let socket: Int32
    var input: ByteBuffer
    var output = ByteBuffer()

    init(socket: Int32, leftover: [UInt8] = []) {
        self.socket = socket
        self.input = ByteBuffer(bytes: leftover)
    }

    /// Appends everything the socket holds to `input`; false when the peer closed or failed.
    fileprivate func receive(using scratch: UnsafeMutableRawBufferPointer) -> Bool {
        if self.input.readableBytes == 0 {
            self.input.clear()
        } else if self.input.readerIndex > 1 << 16 {
            self.input.discardReadBytes()
        }
        while true {
            let count = read(self.socket, scratch.baseAddress, scratch.count)
            if count > 0 {
                self.input.writeBytes(UnsafeRawBufferPointer(rebasing: scratch[0..<count]))
                if count < scratch.count { return true }
            } else if count == 0 {
                return false
            } else if errno != EINTR {
                return errno == EAGAIN || errno == EWOULDBLOCK
            }
        }
    }

    /// Writes what the kernel takes of `output`; false on an error.
    fileprivate func flush() -> Bool {
        while self.output.readableBytes > 0 {
            let count = self.output.withUnsafeReadableBytes { write(self.socket, $0.baseAddress, $0.count) }
            if count > 0 {
                self.output.moveReaderIndex(forwardBy: count)
            } else if errno == EAGAIN || errno == EWOULDBLOCK {
                return true
            } else if errno != EINTR {
                return false
            }
        }
        self.output.clear()
        return true
    }
}

/// Echoing devices and a driver's own connections on one thread, with epoll(7): the raw
/// counterpart of NIO channels for `rtt-tcp --client raw` and `rtt-http --client raw`.
///
/// Devices answer each Request with a Response 0x00 carrying the same payload and each Ping
/// with a Pong; a Close, an end of stream or a malformed transmission stops the run with a
/// ``RawSocketError``. The driver's peers get their bytes through `turn`'s closure.
final class RawPeerLoop {
    private let poller = PollSet()
    private var devices: [Int32: RawPeer] = [:]
    private var drivers: [Int32: RawPeer] = [:]
    private let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 8)

    deinit {
        self.scratch.deallocate()
    }

    /// Echoing devices, logged in (see ``RawLoginClient``).
    func addDevices(_ outcome: RawLoginClient.Outcome) {
        for socket in outcome.sockets {
            self.devices[socket] = RawPeer(socket: socket, leftover: outcome.leftovers[socket] ?? [])
            self.poller.add(socket, events: PollSet.readable)
        }
    }

    /// A connection of the driver; watched for writing too while `connecting`.
    func addDriver(_ peer: RawPeer, connecting: Bool = false) {
        self.drivers[peer.socket] = peer
        self.poller.add(peer.socket, events: connecting ? PollSet.readable | PollSet.writable : PollSet.readable)
    }

    var deviceSockets: [Int32] { Array(self.devices.keys) }

    /// Sends what the driver queued on `peer`; what the kernel does not take yet waits for the
    /// socket to be writable.
    func flush(_ peer: RawPeer) throws(RawSocketError) {
        guard peer.flush() else { throw .system("write", errno) }
        self.poller.modify(peer.socket, events: peer.output.readableBytes > 0 ? PollSet.readable | PollSet.writable : PollSet.readable)
    }

    /// Waits up to `timeoutMilliseconds` for sockets to be ready, echoes for the devices and hands
    /// each driver peer that received bytes to `received` (with the time they were read);
    /// flushes whatever was queued.
    func turn(timeoutMilliseconds: Int32, received: (RawPeer, ContinuousClock.Instant) throws -> Void) throws {
        let ready = try self.poller.wait(timeoutMilliseconds: timeoutMilliseconds)
        let now = ContinuousClock.now
        for (socket, events) in ready {
            if let device = self.devices[socket] {
                guard device.receive(using: self.scratch) else { throw RawSocketError.failed("the gateway closed a device's session") }
                try Self.echo(device)
                try self.flush(device)
            } else if let peer = self.drivers[socket] {
                if events & PollSet.readable != 0 || events & Int16(POLLHUP | POLLERR) != 0 {
                    guard peer.receive(using: self.scratch) else { throw RawSocketError.failed("a driver connection was closed by the server") }
                    try received(peer, now)
                }
                try self.flush(peer)
            }
        }
    }

    /// Answers what arrived for an echoing device.
    private static func echo(_ device: RawPeer) throws(RawSocketError) {
        while true {
            let transmission: Transmission?
            do {
                transmission = try Transmission.read(from: &device.input)
            } catch {
                throw RawSocketError.failed("malformed transmission for a device: \(error)")
            }
            switch transmission {
            case nil:
                return
            case .request(nil, let tracking, let payload):
                Transmission.response(uid: nil, tracking: tracking, code: .valid, payload: payload).write(to: &device.output)
            case .ping:
                Transmission.pong.write(to: &device.output)
            case .close(let code):
                throw RawSocketError.failed("the gateway closed a device's session with \(code)")
            default:
                continue  // telemetry tokens, pongs
            }
        }
    }
}
