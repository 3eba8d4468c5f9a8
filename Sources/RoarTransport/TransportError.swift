/// Names one sealed batch: who produced it and its place in that producer's sequence.
public struct BatchName: Hashable, Sendable, CustomStringConvertible {
    public var producer: String
    public var sequenceNumber: UInt64

    public init(producer: String, sequenceNumber: UInt64) {
        self.producer = producer
        self.sequenceNumber = sequenceNumber
    }

    public var description: String { "batch \(producer)#\(sequenceNumber)" }
}

/// The one error type of `RoarTransport`: what went wrong (``Code``), which batch or file it
/// concerns, and the error underneath when there is one.
///
/// A batch that fails to open is not fatal to reconstitution: report it by name and merge the rest.
public struct TransportError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// The bytes do not start with `RBAT`: not a roar batch.
        case badMagic = "bad magic"
        /// A batch format version this roar cannot read.
        case unsupportedVersion = "unsupported version"
        /// The batch ends before its header or authentication tag is complete.
        case truncated
        /// The AEAD check failed: the batch was altered, or it was sealed to another run's key.
        case authenticationFailed = "authentication failed"
        /// The batch's header names a payload type this roar does not open, or the batch opened but its
        /// content is not that payload (e.g. not a `roar.segments/1` object of this producer).
        case undecodablePayload = "undecodable payload"
        /// The batch, or the payload inside it, belongs to another session.
        case sessionMismatch = "session mismatch"
        /// A key is not a 32-byte X25519 key (bad base64 or length).
        case invalidKey = "invalid key"
        /// A key file could not be read or written, or is readable by others.
        case keyFile = "key file"
        /// A header field does not fit the format (producer id, session id or payload type too long or empty).
        case invalidHeader = "invalid header"
    }

    public var code: Code
    /// The batch concerned, as far as its header could be read.
    public var batch: BatchName?
    /// What was wrong and what to do, for the user.
    public var detail: String
    public var underlyingError: (any Error)?

    public init(_ code: Code, batch: BatchName? = nil, detail: String, underlyingError: (any Error)? = nil) {
        self.code = code
        self.batch = batch
        self.detail = detail
        self.underlyingError = underlyingError
    }

    public var description: String {
        let subject = batch.map { "\($0): " } ?? ""
        return "\(subject)\(code.rawValue): \(detail)"
    }
}
