import RoarHash

/// Identifiers for jobs and runs: 16 lowercase hex digits.
public enum StableID {
    /// Derived from text: the same text always gives the same id (BLAKE3, first 8 bytes).
    public static func make(from text: String) -> String {
        String(BLAKE3Hasher.hash(bytes: Array(text.utf8)).hex.prefix(16))
    }

    /// A fresh random id.
    public static func random() -> String {
        var generator = SystemRandomNumberGenerator()
        let value = generator.next() as UInt64
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
