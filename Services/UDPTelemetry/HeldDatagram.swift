/// An accepted-looking datagram waiting for its token's lookup, kept in the form it will be
/// appended in.
struct HeldDatagram {
    /// The payload block's wire bytes (format/options, length, data), already validated.
    var payloadBlock: [UInt8]
    /// When it was read (Unix ms): the `at` of its stream entry.
    var receivedAtMilliseconds: Int
}
