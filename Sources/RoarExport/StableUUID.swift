public import RoarCore

/// Deterministic UUIDs for the exports: the same roar job always gets the same UUID, so exporting twice
/// gives identical output and a consumer that saw an event once recognises the run again.
///
/// The shape is UUIDv7 (RFC 9562 §5.7): the first 48 bits are the job's start in Unix milliseconds, so
/// the UUIDs of a project sort by start time as v7 UUIDs do; the version nibble is 7 and the variant
/// `10`. The other 74 bits, which v7 fills at random, come from `BLAKE3("roar.openlineage.run/1" 0x00
/// uid)` instead, so they are stable and differ for every uid (`docs/openlineage.md`, "Run ids").
public enum StableUUID {
    /// The run id of the roar job `uid` that started at `startedAt` (seconds since the epoch).
    public static func run(uid: String, startedAt: Double) -> String {
        make(domain: "roar.openlineage.run/1", name: uid, milliseconds: milliseconds(startedAt))
    }

    /// A v7-shaped UUID over `milliseconds` whose remaining bits are `BLAKE3(domain 0x00 name)`.
    public static func make(domain: String, name: String, milliseconds: UInt64) -> String {
        let digest = StableID.digest(of: domain + "\u{0}" + name)
        var bytes = [UInt8](repeating: 0, count: 16)
        let time = milliseconds & 0xFFFF_FFFF_FFFF
        for index in 0..<6 { bytes[index] = UInt8(truncatingIfNeeded: time >> (8 * UInt64(5 - index))) }
        for index in 6..<16 { bytes[index] = digest[index] }
        bytes[6] = 0x70 | (bytes[6] & 0x0F)
        bytes[8] = 0x80 | (bytes[8] & 0x3F)
        return format(bytes)
    }

    static func milliseconds(_ seconds: Double) -> UInt64 {
        guard seconds.isFinite, seconds > 0 else { return 0 }
        return UInt64((seconds * 1000).rounded(.down))
    }

    static func format(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(36)
        for (index, byte) in bytes.enumerated() {
            if index == 4 || index == 6 || index == 8 || index == 10 { text.append(UInt8(ascii: "-")) }
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}

/// A UTC instant in whole microseconds: what the exports write as RFC 3339 `…T…Z` times.
public struct Microseconds: Hashable, Comparable, Sendable {
    public var value: Int64

    public init(_ value: Int64) { self.value = value }

    /// Seconds since the epoch, rounded to the nearest microsecond.
    public init(seconds: Double) {
        value = seconds.isFinite ? Int64((seconds * 1_000_000).rounded()) : 0
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.value < rhs.value }

    /// `2026-12-04T01:21:07.123456Z` (RFC 3339, UTC, always six fraction digits).
    public var rfc3339: String {
        let seconds = value >= 0 ? value / 1_000_000 : (value - 999_999) / 1_000_000
        let fraction = value - seconds * 1_000_000
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        let (year, month, day) = Self.civil(fromDays: days)
        return Self.pad(year, 4) + "-" + Self.pad(month, 2) + "-" + Self.pad(day, 2) + "T"
            + Self.pad(secondOfDay / 3600, 2) + ":" + Self.pad(secondOfDay / 60 % 60, 2) + ":"
            + Self.pad(secondOfDay % 60, 2) + "." + Self.pad(fraction, 6) + "Z"
    }

    /// Howard Hinnant's `civil_from_days`: the proleptic Gregorian date `days` after 1970-01-01.
    static func civil(fromDays days: Int64) -> (Int64, Int64, Int64) {
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    static func pad(_ number: Int64, _ width: Int) -> String {
        let text = String(number)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }
}
