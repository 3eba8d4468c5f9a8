/// How a registration batch lands, decided in memory before the tables are touched, so that a
/// backend can write it with a few set-based statements instead of a few per job. The result is
/// the one of taking the jobs one by one: a uid already stored with the same document digest is
/// unchanged, with another digest updated (its refs replaced), a new uid inserted; a uid that comes
/// twice in one batch is inserted (or updated) once, with its last document, and counted each time.
struct RegisterPlan {
    /// A job already in the table: its row id and document digest.
    struct Stored: Sendable {
        var id: Int64
        var digest: String
    }

    /// A job to write: its document digest and where it came in the batch (refs are written in that order).
    struct Pending {
        var job: RegisteredJob
        var digest: String
        var position: Int
    }

    /// New uids, in batch order.
    private(set) var inserts: [Pending] = []
    /// Stored jobs whose document changed, by row id.
    private(set) var updates: [(id: Int64, pending: Pending)] = []
    /// Job counts only; edges are counted by the backend.
    private(set) var outcome = RegisterOutcome()

    init(jobs: [RegisteredJob], stored: [String: Stored]) {
        var current = stored.mapValues(\.digest)
        var insertIndex: [String: Int] = [:]
        var updateIndex: [String: Int] = [:]
        for (position, job) in jobs.enumerated() {
            let pending = Pending(job: job, digest: DocumentDigest.of(job.document), position: position)
            guard let known = current[job.uid] else {
                outcome.inserted += 1
                current[job.uid] = pending.digest
                insertIndex[job.uid] = inserts.count
                inserts.append(pending)
                continue
            }
            if known == pending.digest {
                outcome.unchanged += 1
                continue
            }
            outcome.updated += 1
            current[job.uid] = pending.digest
            if let index = insertIndex[job.uid] {
                inserts[index] = pending
            } else if let index = updateIndex[job.uid] {
                updates[index].pending = pending
            } else if let row = stored[job.uid] {
                updateIndex[job.uid] = updates.count
                updates.append((row.id, pending))
            }
        }
    }
}
