import Crypto

// FoundationEssentials where available: roar-agent links this statically and full Foundation brings ICU.
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A `roar.segments/1` batch, once opened and authenticated.
public struct OpenedSegmentBatch: Sendable {
    public var name: BatchName
    public var sessionID: String
    public var batch: SegmentBatch
}

/// Host side: opens batches sealed to this run's key pair.
public struct BatchOpener: Sendable {
    public var keyPair: RunKeyPair
    /// When set, batches of any other session are refused.
    public var expectedSessionID: String?

    public init(keyPair: RunKeyPair, expectedSessionID: String? = nil) {
        self.keyPair = keyPair
        self.expectedSessionID = expectedSessionID
    }

    /// Authenticates, decrypts and decodes one batch sent by `roar-agent` (payload `roar.segments/1`).
    /// Errors name the batch (producer and seq) as far as its header could be read, and say why it
    /// was refused.
    public func open(_ bytes: [UInt8]) throws(TransportError) -> OpenedSegmentBatch {
        let (header, plaintext) = try decrypt(bytes)
        let name = header.name
        guard header.payload == SegmentBatch.currentSchema else {
            throw TransportError(
                .undecodablePayload, batch: name,
                detail: "the batch holds a \(header.payload) payload; this roar opens \(SegmentBatch.currentSchema)")
        }
        let batch: SegmentBatch
        do {
            batch = try SegmentBatch.decode(from: plaintext)
        } catch {
            throw TransportError(
                .undecodablePayload, batch: name,
                detail: "the batch opened but is not a \(SegmentBatch.currentSchema) object: \(error)",
                underlyingError: error)
        }
        guard batch.sessionID == header.sessionID else {
            throw TransportError(
                .sessionMismatch, batch: name,
                detail: "the segments claim session \(batch.sessionID) inside a batch of \(header.sessionID)")
        }
        guard batch.producer == name.producer else {
            throw TransportError(
                .undecodablePayload, batch: name,
                detail: "the segments claim producer \(batch.producer) inside a batch of \(name.producer)")
        }
        return OpenedSegmentBatch(name: name, sessionID: header.sessionID, batch: batch)
    }

    /// Authenticates and decrypts one batch: its header (name, session, payload type) and plaintext.
    func decrypt(_ bytes: [UInt8]) throws(TransportError) -> (header: BatchEnvelope.Header, plaintext: [UInt8]) {
        var offset = 0
        let header = try BatchEnvelope.parseHeader(bytes, offset: &offset)
        let name = header.name
        guard bytes.count - offset >= BatchEnvelope.nonceLength + BatchEnvelope.tagLength else {
            throw TransportError(
                .truncated, batch: name,
                detail:
                    "the batch ends before its nonce and authentication tag (\(bytes.count) bytes in all); it was cut short in transit or on disk"
            )
        }
        let associatedData = Array(bytes[0..<offset])
        let plaintext: Data
        do {
            let ephemeral = try Curve25519.KeyAgreement.PublicKey(rawRepresentation: header.ephemeralPublicKey)
            let shared = try keyPair.privateKey.sharedSecretFromKeyAgreement(with: ephemeral)
            let key = BatchEnvelope.batchKey(
                sharedSecret: shared, ephemeralPublicKey: header.ephemeralPublicKey,
                recipientPublicKey: keyPair.publicKey.rawRepresentation)
            let box = try ChaChaPoly.SealedBox(combined: bytes[offset...])
            plaintext = try ChaChaPoly.open(box, using: key, authenticating: associatedData)
        } catch {
            throw TransportError(
                .authenticationFailed, batch: name,
                detail:
                    "the batch was altered or cut short after sealing, or sealed to another run's key; skip it and merge the rest",
                underlyingError: error)
        }
        if let expectedSessionID, header.sessionID != expectedSessionID {
            throw TransportError(
                .sessionMismatch, batch: name,
                detail: "the batch belongs to session \(header.sessionID), not \(expectedSessionID)")
        }
        return (header, Array(plaintext))
    }
}
