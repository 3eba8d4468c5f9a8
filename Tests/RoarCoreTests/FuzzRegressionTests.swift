import Testing

@testable import RoarCore

/// Inputs found by `scripts/fuzz spool` (docs/fuzzing.md) that once trapped: each must now be a
/// clean problem naming the line and the field.
@Suite("Spool reader: fuzz regressions")
struct SpoolFuzzRegressionTests {
    /// crash-5c2753b79493f7ae5f7a8e7f2ee1a2309a296334: a `P` record whose child pid does not fit
    /// in 32 bits trapped converting it to `Int32`.
    @Test func childPIDOutOfRange() {
        let bytes = Array(
            ("P\tray:c8ef45aa00000000000000000000000000000000000000aa:ef45aa00000000000000000000000000000000000000aa:0"
                + "\t0\t1795000000000000012\t4243\n").utf8)
        let contents = SpoolReader.parse(bytes, file: "fuzz.spool")
        #expect(contents.records.isEmpty)
        #expect(
            contents.problems.first
                == SpoolProblem(
                    file: "fuzz.spool", line: 1, kind: .corrupt,
                    detail: "field 'child_pid' is out of range for a process id: 1795000000000000012"))
    }

    @Test func headerPIDsOutOfRange() {
        let contents = SpoolReader.parse(
            Array("H\t1\t4294967296\t1\t0\t/bin/sh\t/\nH\t1\t1\t-2147483649\t0\t/bin/sh\t/\n".utf8), file: "h.spool")
        #expect(contents.header == nil)
        #expect(
            contents.problems.map(\.detail) == [
                "field 'pid' is out of range for a process id: 4294967296",
                "field 'ppid' is out of range for a process id: -2147483649",
                "no H header line; process identity unknown",
            ])
    }
}
