import Crypto

// FoundationEssentials where available: roar-agent links this statically and full Foundation brings ICU.
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Agent side: seals batches to the run's public key. Each batch gets a fresh ephemeral key, so
/// batches are independent and the agent holds no secret worth stealing.
public struct BatchSealer: Sendable {
    public var recipient: RunPublicKey
    public var sessionID: String
    /// Names this agent (e.g. `node-<ray node id>`); with the sequence number it names each batch.
    public var producer: String

    public init(recipient: RunPublicKey, sessionID: String, producer: String) {
        self.recipient = recipient
        self.sessionID = sessionID
        self.producer = producer
    }

    /// The sealed bytes of one batch of spool segments. `sequenceNumber` must increase with every
    /// batch this producer sends.
    public func seal(_ segmentBatch: SegmentBatch, sequenceNumber: UInt64) throws(TransportError) -> [UInt8] {
        try seal(segmentBatch, sequenceNumber: sequenceNumber, ephemeralKey: .init(), nonce: .init())
    }

    /// Deterministic sealing for test vectors.
    func seal(
        _ segmentBatch: SegmentBatch, sequenceNumber: UInt64, ephemeralKey: Curve25519.KeyAgreement.PrivateKey,
        nonce: ChaChaPoly.Nonce
    ) throws(TransportError) -> [UInt8] {
        let name = BatchName(producer: producer, sequenceNumber: sequenceNumber)
        guard segmentBatch.sessionID == sessionID else {
            throw TransportError(
                .sessionMismatch, batch: name,
                detail: "the segments are of session \(segmentBatch.sessionID), the batch of \(sessionID)")
        }
        let plaintext: [UInt8]
        do {
            plaintext = try segmentBatch.encoded()
        } catch {
            throw TransportError(
                .undecodablePayload, batch: name, detail: "the segments could not be encoded",
                underlyingError: error)
        }
        return try seal(
            plaintext: plaintext, payload: SegmentBatch.currentSchema, sequenceNumber: sequenceNumber,
            ephemeralKey: ephemeralKey, nonce: nonce)
    }

    /// Seals any plaintext under the payload type `payload` (tests use it to seal what is not a
    /// valid payload).
    func seal(
        plaintext: [UInt8], payload: String, sequenceNumber: UInt64, ephemeralKey: Curve25519.KeyAgreement.PrivateKey,
        nonce: ChaChaPoly.Nonce
    ) throws(TransportError) -> [UInt8] {
        let name = BatchName(producer: producer, sequenceNumber: sequenceNumber)
        for (what, value) in [("producer id", producer), ("session id", sessionID), ("payload type", payload)] {
            guard !value.isEmpty, value.utf8.count <= BatchEnvelope.maximumFieldLength else {
                throw TransportError(
                    .invalidHeader, batch: name,
                    detail: "the \(what) must be 1 to \(BatchEnvelope.maximumFieldLength) bytes of UTF-8")
            }
        }
        let ephemeralPublicKey = Array(ephemeralKey.publicKey.rawRepresentation)
        let header = BatchEnvelope.Header(
            ephemeralPublicKey: ephemeralPublicKey, producer: producer, sequenceNumber: sequenceNumber,
            sessionID: sessionID, payload: payload)
        let associatedData = header.encoded()
        do {
            let shared = try ephemeralKey.sharedSecretFromKeyAgreement(with: recipient.cryptoKey)
            let key = BatchEnvelope.batchKey(
                sharedSecret: shared, ephemeralPublicKey: ephemeralPublicKey,
                recipientPublicKey: recipient.rawRepresentation)
            let box = try ChaChaPoly.seal(plaintext, using: key, nonce: nonce, authenticating: associatedData)
            return associatedData + Array(box.combined)
        } catch {
            throw TransportError(
                .invalidKey, batch: name, detail: "sealing failed: the run public key is unusable",
                underlyingError: error)
        }
    }
}
