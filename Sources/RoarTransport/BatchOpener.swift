import Crypto
// FoundationEssentials where available: roar-agent links this statically and full Foundation brings ICU.
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What a sealed batch held, once opened and authenticated.
public struct OpenedBatch: Sendable {
    public var name: BatchName
    public var sessionID: String
    public var fragments: [TaskFragment]
}

/// Host side: opens batches sealed to this run's key pair.
public struct BatchOpener: Sendable {
    public var keyPair: RunKeyPair
    /// When set, batches (and fragments) of any other session are refused.
    public var expectedSessionID: String?

    public init(keyPair: RunKeyPair, expectedSessionID: String? = nil) {
        self.keyPair = keyPair
        self.expectedSessionID = expectedSessionID
    }

    /// Authenticates, decrypts and decodes one batch of fragments. Errors name the batch (producer
    /// and seq) as far as its header could be read, and say why it was refused.
    public func open(_ bytes: [UInt8]) throws(TransportError) -> OpenedBatch {
        let (name, sessionID, plaintext) = try decrypt(bytes)
        return try fragments(in: plaintext, name: name, sessionID: sessionID)
    }

    /// Authenticates and decrypts one batch: its name, session and plaintext (either payload).
    func decrypt(_ bytes: [UInt8]) throws(TransportError) -> (name: BatchName, sessionID: String, plaintext: [UInt8]) {
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
        return (name, header.sessionID, Array(plaintext))
    }

    func fragments(in plaintext: [UInt8], name: BatchName, sessionID: String) throws(TransportError) -> OpenedBatch {
        let header = (sessionID: sessionID, name: name)
        let fragments: [TaskFragment]
        do {
            fragments = try TaskFragment.decode(batch: plaintext)
        } catch {
            throw TransportError(
                .undecodableFragments, batch: name,
                detail: "the batch opened but is not a JSON array of \(TaskFragment.currentSchema) fragments: \(error)",
                underlyingError: error)
        }
        if let stranger = fragments.first(where: { $0.sessionID != header.sessionID }) {
            throw TransportError(
                .sessionMismatch, batch: name,
                detail:
                    "fragment \(stranger.jobUID) claims session \(stranger.sessionID) inside a batch of \(header.sessionID)"
            )
        }
        return OpenedBatch(name: name, sessionID: header.sessionID, fragments: fragments)
    }
}
