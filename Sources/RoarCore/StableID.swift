import CBLAKE3

/// Identifiers for jobs and runs: 16 lowercase hex digits.
public enum StableID {
    /// Derived from text: the same text always gives the same id (BLAKE3, first 8 bytes).
    public static func make(from text: String) -> String {
        digest(of: text).prefix(8).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    /// The 32-byte BLAKE3 of `text`'s UTF-8: what `make` and the exports' stable UUIDs are cut from.
    public static func digest(of text: String) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: Int(ROAR_BLAKE3_OUT_LEN))
        let bytes = Array(text.utf8)
        bytes.withUnsafeBytes { roar_blake3_hash($0.baseAddress, $0.count, &digest) }
        return digest
    }

    /// A fresh random id.
    public static func random() -> String {
        var generator = SystemRandomNumberGenerator()
        let value = generator.next() as UInt64
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
