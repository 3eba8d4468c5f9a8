import RoarCore

/// A 64-bit hash of everything a merge would write for one job: its row and its refs and
/// deletes, in order. Stored in `jobs.fingerprint`; a merged job whose fingerprint matches the
/// stored one is left as it is, so merging the same jobs again writes nothing at all.
///
/// Not a security boundary: it only tells whether the same job (same uid) changed between two
/// merges. Each value is written with a type tag and, for strings, its length, so that no two
/// different field sequences produce the same byte stream.
struct JobFingerprint {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a's offset basis

    init(_ recorded: RecordedJob, row: JobRow, refHashes: (inputs: [String], outputs: [String])) {
        for argument in [
            row.uid, row.role, row.command, row.cwd, row.gitCommit, row.gitBranch, row.status, row.parentUID,
            row.error, row.hostname, row.coverage, row.rayTaskID, row.rayActorID, row.rayNodeID, row.rayWorkerID,
            row.rayJobID, row.rayFunction,
        ] {
            add(argument)
        }
        add(row.sessionID)
        add(row.step.map(Int64.init))
        add(row.gitDirty.map { $0 ? 1 : 0 })
        add(Int64(bitPattern: row.startedAt.bitPattern))
        add(row.durationSeconds.map { Int64(bitPattern: $0.bitPattern) })
        add(row.exitCode.map(Int64.init))
        add(row.rayAttempt.map(Int64.init))
        add(recorded.inputs, hashes: refHashes.inputs)
        add(recorded.outputs, hashes: refHashes.outputs)
        add(Int64(recorded.deletes.count))
        for path in recorded.deletes { add(path) }
    }

    /// The stored form: SQLite integers are signed.
    var databaseValue: Int64 { Int64(bitPattern: value) }

    private mutating func add(_ refs: [Ref], hashes: [String]) {
        add(Int64(refs.count))
        for (ref, hashes) in zip(refs, hashes) {
            add(ref.path)
            add(ref.kind.rawValue)
            add(hashes)
            add(ref.size)
            add(ref.capture)
            add(ref.version.map { Int64(bitPattern: $0.device) })
            add(ref.version.map { Int64(bitPattern: $0.inode) })
            add(ref.version?.size)
            add(ref.version?.modifiedNanoseconds)
            add(ref.isClusterOnly ? 1 : 0)
            add(ref.byteRanges.map { RefRow<InputDirection>.rangesText($0) })
        }
    }

    private mutating func add(_ string: String?) {
        guard var string else { return mix(0) }
        mix(1)
        mix(UInt64(string.utf8.count))
        // Eight bytes at a time: a merge fingerprints every path and command it writes.
        string.withUTF8 { bytes in
            let raw = UnsafeRawBufferPointer(bytes)
            var offset = 0
            while offset + 8 <= raw.count {
                mix(raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
                offset += 8
            }
            var tail: UInt64 = 0
            while offset < raw.count {
                tail = tail << 8 | UInt64(raw[offset])
                offset += 1
            }
            mix(tail)
        }
    }

    private mutating func add(_ integer: Int64?) {
        guard let integer else { return mix(0) }
        mix(2)
        mix(UInt64(bitPattern: integer))
    }

    /// Folds one word in: FNV-1a's xor-multiply on 64-bit words, plus a shift so that the high
    /// bits of a word reach the low bits of the state.
    private mutating func mix(_ word: UInt64) {
        value = (value ^ word) &* 0x100_0000_01b3
        value ^= value >> 29
    }
}
