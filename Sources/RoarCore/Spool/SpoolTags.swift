/// How spool tags map to jobs (`docs/ray-events.md`): the empty tag is the driver, `ray:<task>:<attempt>`
/// and `ray-actor:<actor>` are tasks, every other tag is Ray's own machinery.
/// Used by the host's `JobAssembler` for local and host-submitted runs alike.
public enum SpoolTags {
    /// Whether records with this tag belong to a job (the driver or a task) rather than to Ray itself.
    public static func isJobTag(_ tag: String) -> Bool {
        tag.isEmpty || tag.hasPrefix("ray:") || tag.hasPrefix("ray-actor:")
    }

    /// The stable job uid of a tag within a session: the same as `JobAssembler.jobUID(runID:tag:)`.
    public static func jobUID(sessionID: String, tag: String) -> String {
        StableID.make(from: sessionID + "\u{1F}" + tag)
    }

    /// `(task id, attempt)` spelled by a `ray:<task>:<attempt>` tag.
    public static func taskIdentity(ofTag tag: String) -> (taskID: String, attempt: Int)? {
        guard tag.hasPrefix("ray:") else { return nil }
        let parts = tag.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count >= 3, !parts[1].isEmpty else { return nil }
        return (String(parts[1]), Int(parts[2]) ?? 0)
    }

    /// The actor id of a `ray-actor:<actor>` tag.
    public static func actorID(ofTag tag: String) -> String? {
        tag.hasPrefix("ray-actor:") ? String(tag.dropFirst("ray-actor:".count)) : nil
    }

    /// The tag and time of a record that is attributed to a thread; nil for per-process records.
    public static func tagAndTime(of record: SpoolRecord) -> (tag: String, nanoseconds: Int64)? {
        switch record {
        case .file(let access): (access.tag, access.closedNanoseconds)
        case .openForWrite(let tag, let ns, _, _), .delete(let tag, let ns, _), .truncate(let tag, let ns, _, _),
            .rename(let tag, let ns, _, _), .link(let tag, let ns, _, _), .exec(let tag, let ns, _, _),
            .spawn(let tag, let ns, _), .warning(let tag, let ns, _, _), .event(let tag, let ns, _):
            (tag, ns)
        case .header, .coverage, .exit: nil
        }
    }

    /// Coverage counters of the preload library that mean lineage was lost. (`untracked_fd`, I/O on
    /// deleted or anonymous files, and `static_exec`, reported per job by `W` records, are not.)
    public static let lossCounters: Set<String> = [
        "lost", "fd_overflow", "rehash_failed", "path_too_long", "tag_truncated",
        // A hooked libc function the preload found nowhere: the program's call failed with ENOSYS.
        "unresolved",
        // Records the spool's file system had no room for (counted in the space the preload keeps in reserve).
        "spool_full",
    ]
}
