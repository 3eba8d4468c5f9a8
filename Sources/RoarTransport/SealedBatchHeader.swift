/// What anyone may read of a sealed batch without its key: the header's names. A store of
/// batches (the lineage server) checks them against where the batch is filed; only the host's
/// ``BatchOpener`` can tell whether they are genuine (the header is the AEAD's associated data).
public struct SealedBatchHeader: Sendable, Hashable {
    public var producer: String
    public var sequenceNumber: UInt64
    public var sessionID: String
    public var payload: String

    /// Reads the header of `bytes` (a whole sealed batch).
    public init(reading bytes: [UInt8]) throws(TransportError) {
        var offset = 0
        let header = try BatchEnvelope.parseHeader(bytes, offset: &offset)
        try BatchEnvelope.HeaderReader(bytes: bytes, offset: offset, name: header.name)
            .need(BatchEnvelope.nonceLength + BatchEnvelope.tagLength, "nonce and tag")
        producer = header.producer
        sequenceNumber = header.sequenceNumber
        sessionID = header.sessionID
        payload = header.payload
    }
}
