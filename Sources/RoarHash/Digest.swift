/// The result of hashing: the algorithm, the raw bytes and their lowercase hex spelling.
public struct Digest: Hashable, Sendable, CustomStringConvertible {
    public let algorithm: HashAlgorithm
    public let bytes: [UInt8]

    public init(algorithm: HashAlgorithm, bytes: [UInt8]) {
        self.algorithm = algorithm
        self.bytes = bytes
    }

    /// Parses a hex digest (either case); `nil` unless it spells exactly `algorithm.digestByteCount` bytes.
    public init?(algorithm: HashAlgorithm, hex: some StringProtocol) {
        let utf8 = Array(hex.utf8)
        guard utf8.count == 2 * algorithm.digestByteCount else { return nil }
        var bytes = [UInt8]()
        bytes.reserveCapacity(algorithm.digestByteCount)
        var index = 0
        while index < utf8.count {
            guard let high = Self.nibble(utf8[index]), let low = Self.nibble(utf8[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        self.init(algorithm: algorithm, bytes: bytes)
    }

    /// Lowercase hex, as b3sum and sha256sum print it.
    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        return String(unsafeUninitializedCapacity: bytes.count * 2) { buffer in
            for (index, byte) in bytes.enumerated() {
                buffer[2 * index] = digits[Int(byte >> 4)]
                buffer[2 * index + 1] = digits[Int(byte & 0x0F)]
            }
            return bytes.count * 2
        }
    }

    public var description: String { "\(algorithm.rawValue):\(hex)" }

    private static func nibble(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): character - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
