import NIOCore

/// The PROXY protocol header (version 1, text, and version 2, binary) a load balancer such as
/// the compose edge (nginx `proxy_protocol on`), HAProxy or a cloud load balancer puts before a
/// connection's own bytes, saying whom it forwards: read when `TCPServer.ProxyProtocol` is on,
/// so logs, events, the REST API and the login throttle see the device's address, not the
/// balancer's.
struct ProxyHeader {
    /// The client's address and port; nil for a `LOCAL` (v2) or `UNKNOWN` (v1) header, sent by
    /// the balancer's own health checks: the connection's own address stands.
    var source: (host: String, port: Int)?

    /// Why a connection's first bytes are not a PROXY header.
    struct Malformed: Error, CustomStringConvertible {
        var description: String
    }

    /// The longest version 1 line, CRLF included (the specification's bound).
    static let maxVersion1Length = 107
    /// The longest version 2 header accepted (addresses and TLVs after the 16 fixed bytes).
    static let maxVersion2Length = 16 + 1024
    static let version2Signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]

    /// Reads a header at the start of `buffer` and consumes it.
    /// - Returns: nil while more bytes are needed (nothing consumed).
    /// - Throws: ``Malformed`` when the bytes cannot be a PROXY header (none, or a broken one).
    static func read(from buffer: inout ByteBuffer) throws(Malformed) -> ProxyHeader? {
        guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return nil }
        switch first {
        case UInt8(ascii: "P"): return try Self.readVersion1(from: &buffer)
        case 0x0D: return try Self.readVersion2(from: &buffer)
        default: throw Malformed(description: "no PROXY protocol header (first byte 0x\(String(first, radix: 16)))")
        }
    }

    private static func readVersion1(from buffer: inout ByteBuffer) throws(Malformed) -> ProxyHeader? {
        let readable = buffer.readableBytesView.prefix(Self.maxVersion1Length)
        let opening = Array("PROXY ".utf8)
        let head = Array(readable.prefix(opening.count))
        guard head == Array(opening.prefix(head.count)) else { throw Malformed(description: "not a PROXY v1 line") }
        guard let lineFeed = readable.firstIndex(of: 0x0A) else {
            if readable.count < Self.maxVersion1Length { return nil }
            throw Malformed(description: "PROXY v1 line without CRLF in \(Self.maxVersion1Length) bytes")
        }
        let lineBytes = readable[readable.startIndex..<lineFeed]
        guard lineBytes.last == 0x0D else { throw Malformed(description: "PROXY v1 line not ended by CRLF") }
        let line = String(decoding: lineBytes.dropLast(), as: UTF8.self)
        let parts = line.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.first == "PROXY", parts.count >= 2 else { throw Malformed(description: "not a PROXY v1 line") }
        let header: ProxyHeader
        switch parts[1] {
        case "UNKNOWN":
            header = ProxyHeader(source: nil)
        case "TCP4", "TCP6":
            guard parts.count == 6, let port = Int(parts[4]), (0...65535).contains(port), Int(parts[5]).map({ (0...65535).contains($0) }) == true
            else { throw Malformed(description: "PROXY v1 line with bad fields: \(line.prefix(80))") }
            let host = String(parts[2])
            guard (try? SocketAddress(ipAddress: host, port: port)) != nil, (try? SocketAddress(ipAddress: String(parts[3]), port: 0)) != nil else {
                throw Malformed(description: "PROXY v1 line with a bad address: \(line.prefix(80))")
            }
            header = ProxyHeader(source: (host, port))
        default:
            throw Malformed(description: "PROXY v1 protocol \(parts[1].prefix(16)) unknown")
        }
        buffer.moveReaderIndex(forwardBy: lineBytes.count + 1)
        return header
    }

    private static func readVersion2(from buffer: inout ByteBuffer) throws(Malformed) -> ProxyHeader? {
        let start = buffer.readerIndex
        let signatureBytes = min(buffer.readableBytes, Self.version2Signature.count)
        guard buffer.getBytes(at: start, length: signatureBytes).map({ $0 == Array(Self.version2Signature.prefix(signatureBytes)) }) == true else {
            throw Malformed(description: "no PROXY protocol header (bad v2 signature)")
        }
        guard buffer.readableBytes >= 16, let versionCommand = buffer.getInteger(at: start + 12, as: UInt8.self),
            let family = buffer.getInteger(at: start + 13, as: UInt8.self), let length = buffer.getInteger(at: start + 14, as: UInt16.self)
        else { return nil }
        guard versionCommand >> 4 == 2 else { throw Malformed(description: "PROXY v2 header with version \(versionCommand >> 4)") }
        guard 16 + Int(length) <= Self.maxVersion2Length else { throw Malformed(description: "PROXY v2 header of \(length) bytes") }
        guard buffer.readableBytes >= 16 + Int(length) else { return nil }
        let header: ProxyHeader
        switch (versionCommand & 0x0F, family) {
        case (0x0, _):
            header = ProxyHeader(source: nil)  // LOCAL: the balancer's own connection
        case (0x1, 0x11):
            guard length >= 12, let address = buffer.getBytes(at: start + 16, length: 4), let port = buffer.getInteger(at: start + 24, as: UInt16.self)
            else { throw Malformed(description: "PROXY v2 TCP4 header too short") }
            header = ProxyHeader(source: (Self.text(of: address, port: port), Int(port)))
        case (0x1, 0x21):
            guard length >= 36, let address = buffer.getBytes(at: start + 16, length: 16), let port = buffer.getInteger(at: start + 48, as: UInt16.self)
            else { throw Malformed(description: "PROXY v2 TCP6 header too short") }
            header = ProxyHeader(source: (Self.text(of: address, port: port), Int(port)))
        case (0x1, _):
            header = ProxyHeader(source: nil)  // UNSPEC, UDP or UNIX: nothing usable
        default:
            throw Malformed(description: "PROXY v2 command \(versionCommand & 0x0F) unknown")
        }
        buffer.moveReaderIndex(forwardBy: 16 + Int(length))
        return header
    }

    /// An IPv4 or IPv6 address in its usual text form.
    private static func text(of packed: [UInt8], port: UInt16) -> String {
        (try? SocketAddress(packedIPAddress: ByteBuffer(bytes: packed), port: Int(port)))?.ipAddress ?? "unknown"
    }
}
