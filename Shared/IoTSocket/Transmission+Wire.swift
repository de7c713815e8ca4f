import NIOCore

extension Transmission {
    private static let rteBit: UInt8 = 0x08
    private static let reservedBits: UInt8 = 0x07

    /// The total length of the transmission at the reader index of `buffer`, found by peeking at
    /// its header and length fields only; nil while those fields are not all readable yet.
    ///
    /// The data itself need not be present, which is what lets a receiver refuse an oversized
    /// transmission before waiting for (or allocating) it. An ACL count too large for an `Int`
    /// gives `Int.max`.
    /// - Throws: ``IoTSocketError`` as soon as the bytes seen are malformed: unknown ToT, reserved
    ///   bits set, RTE not allowed or missing for the type, unknown payload format.
    public static func frameLength(peekingAt buffer: ByteBuffer) throws(IoTSocketError) -> Int? {
        guard let header = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return nil }
        let type = try Self.validatedType(header: header)
        let fixed = 1 + (header & Self.rteBit != 0 ? UID.wireLength : 0)
        switch type {
        case .ping, .pong:
            return fixed
        case .close:
            return fixed + 1
        case .telemetryToken:
            return fixed + TelemetryToken.byteCount
        case .acl:
            guard let count = buffer.getInteger(at: buffer.readerIndex + fixed, as: UInt32.self) else { return nil }
            guard let list = ACLEntry.listWireLength(count: count) else { return Int.max }
            let (total, overflow) = list.addingReportingOverflow(fixed)
            return overflow ? Int.max : total
        case .request:
            return try PayloadBlock.wireLength(peekingAt: buffer, offset: fixed + 2).map { fixed + 2 + $0 }
        case .response:
            return try PayloadBlock.wireLength(peekingAt: buffer, offset: fixed + 3).map { fixed + 3 + $0 }
        case .identifiedTelemetry:
            return try PayloadBlock.wireLength(peekingAt: buffer, offset: fixed).map { fixed + $0 }
        }
    }

    /// Reads one whole transmission; nil (nothing read) while it is incomplete.
    ///
    /// - Parameter maximumLength: the most bytes one transmission may take (header, UID and data);
    ///   checked as soon as the length is announced, before the data is waited for.
    /// - Throws: ``IoTSocketError/transmissionTooLong(length:maximum:)`` or a malformation error;
    ///   the reader index is then unchanged. After an error the stream cannot be resynchronised.
    public static func read(
        from buffer: inout ByteBuffer,
        maximumLength: Int = Int.max
    ) throws(IoTSocketError) -> Transmission? {
        guard let length = try Self.frameLength(peekingAt: buffer) else { return nil }
        guard length <= maximumLength else { throw .transmissionTooLong(length: length, maximum: maximumLength) }
        guard var frame = buffer.getSlice(at: buffer.readerIndex, length: length) else { return nil }
        let transmission = try Self.parse(frame: &frame)
        buffer.moveReaderIndex(forwardBy: length)
        return transmission
    }

    /// Appends the wire form.
    /// - Precondition: an ACL has fewer than 2³² entries.
    public func write(to buffer: inout ByteBuffer) {
        let uid = self.uid
        buffer.writeInteger(self.type.rawValue << 4 | (uid == nil ? 0 : Self.rteBit))
        uid?.write(to: &buffer)
        switch self {
        case .acl(let entries):
            ACLEntry.writeList(entries, to: &buffer)
        case .ping, .pong:
            break
        case .request(_, let tracking, let payload):
            buffer.writeInteger(tracking)
            payload.write(to: &buffer)
        case .response(_, let tracking, let code, let payload):
            buffer.writeMultipleIntegers(tracking, code.rawValue)
            payload.write(to: &buffer)
        case .telemetryToken(let token):
            token.write(to: &buffer)
        case .identifiedTelemetry(_, let payload):
            payload.write(to: &buffer)
        case .close(let code):
            buffer.writeInteger(code.rawValue)
        }
    }

    private static func validatedType(header: UInt8) throws(IoTSocketError) -> TransmissionType {
        let type = try TransmissionType(nibble: header >> 4)
        guard header & Self.reservedBits == 0 else { throw .reservedHeaderBitsSet(header: header) }
        let hasUID = header & Self.rteBit != 0
        switch type.uidPresence {
        case .never where hasUID:
            throw .unexpectedUID(type)
        case .always where !hasUID:
            throw .missingUID(type)
        default:
            return type
        }
    }

    /// Parses a frame whose length ``frameLength(peekingAt:)`` has confirmed, so every read below
    /// finds its bytes and the frame is consumed exactly.
    private static func parse(frame: inout ByteBuffer) throws(IoTSocketError) -> Transmission {
        let header = frame.readInteger(as: UInt8.self)!
        let type = try Self.validatedType(header: header)
        var uid: UID? = nil
        if header & Self.rteBit != 0 {
            uid = try UID.read(from: &frame)!
        }
        switch type {
        case .acl:
            return .acl(try ACLEntry.readList(from: &frame)!)
        case .ping:
            return .ping
        case .pong:
            return .pong
        case .request:
            let tracking = frame.readInteger(as: UInt16.self)!
            return .request(uid: uid, tracking: tracking, payload: try PayloadBlock.read(from: &frame)!)
        case .response:
            let (tracking, code) = frame.readMultipleIntegers(as: (UInt16, UInt8).self)!
            return .response(
                uid: uid,
                tracking: tracking,
                code: ResponseCode(code),
                payload: try PayloadBlock.read(from: &frame)!
            )
        case .telemetryToken:
            return .telemetryToken(TelemetryToken.read(from: &frame)!)
        case .identifiedTelemetry:
            // validatedType guarantees RTE = 1 here.
            return .identifiedTelemetry(uid: uid!, payload: try PayloadBlock.read(from: &frame)!)
        case .close:
            return .close(CloseCode(frame.readInteger(as: UInt8.self)!))
        }
    }
}
