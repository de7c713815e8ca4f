import NIOCore

extension ACLEntry {
    /// Reads a whole ACL: `count (32 bits)` then `count` entries.
    ///
    /// Returns nil (nothing read) until every entry is readable; callers that must bound memory
    /// check the announced count first (``Transmission/frameLength(peekingAt:)`` does).
    /// - Throws: ``IoTSocketError/invalidACLEntry(index:_:)``; the reader index is then unchanged.
    public static func readList(from buffer: inout ByteBuffer) throws(IoTSocketError) -> [ACLEntry]? {
        guard let count = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
        guard let length = Self.listWireLength(count: count), buffer.readableBytes >= length else { return nil }
        var copy = buffer
        copy.moveReaderIndex(forwardBy: 4)
        var entries: [ACLEntry] = []
        entries.reserveCapacity(Int(count))
        for index in 0..<Int(count) {
            do {
                // Length checked above.
                entries.append(try ACLEntry.read(from: &copy)!)
            } catch {
                throw .invalidACLEntry(index: index, error)
            }
        }
        buffer = copy
        return entries
    }

    /// Appends `count (32 bits)` then each entry.
    /// - Precondition: fewer than 2³² entries.
    public static func writeList(_ entries: [ACLEntry], to buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt32(entries.count))
        for entry in entries {
            entry.write(to: &buffer)
        }
    }

    /// The wire length of an ACL of `count` entries, or nil if it does not fit an `Int`.
    static func listWireLength(count: UInt32) -> Int? {
        guard let count = Int(exactly: count) else { return nil }
        let (entries, overflow) = count.multipliedReportingOverflow(by: Self.wireLength)
        guard !overflow else { return nil }
        let (total, overflowTotal) = entries.addingReportingOverflow(4)
        return overflowTotal ? nil : total
    }
}
