/// One line of a spool file, decoded. See `docs/spool-format.md` for the byte format.
public enum SpoolRecord: Hashable, Sendable {
    case header(SpoolHeader)
    case file(FileAccess)
    case openForWrite(tag: String, nanoseconds: Int64, mode: String, path: String)
    case rename(tag: String, nanoseconds: Int64, from: String, to: String)
    case link(tag: String, nanoseconds: Int64, from: String, to: String)
    case delete(tag: String, nanoseconds: Int64, path: String)
    case truncate(tag: String, nanoseconds: Int64, path: String, length: Int64)
    case exec(tag: String, nanoseconds: Int64, path: String, arguments: [String])
    case spawn(tag: String, nanoseconds: Int64, childPID: Int32)
    case warning(tag: String, nanoseconds: Int64, kind: String, detail: String)
    case event(tag: String, nanoseconds: Int64, json: String)
    case coverage(nanoseconds: Int64, counters: [String: Int])
    case exit(nanoseconds: Int64)
}

/// The first line of every spool file: which process wrote it.
public struct SpoolHeader: Hashable, Sendable {
    public var version: Int
    public var pid: Int32
    public var parentPID: Int32
    public var startNanoseconds: Int64
    public var executable: String
    public var cwd: String

    public init(version: Int, pid: Int32, parentPID: Int32, startNanoseconds: Int64, executable: String, cwd: String) {
        self.version = version
        self.pid = pid
        self.parentPID = parentPID
        self.startNanoseconds = startNanoseconds
        self.executable = executable
        self.cwd = cwd
    }
}

/// One open→close of a regular file by one process (an `F` record).
public struct FileAccess: Hashable, Sendable {
    public var tag: String
    public var openedNanoseconds: Int64
    public var closedNanoseconds: Int64
    /// Letters `r w a c t m s`, see the spool format.
    public var mode: String
    public var bytesRead: Int64
    public var bytesWritten: Int64
    public var version: FileVersion
    /// `(algorithm, hex)` of the final content for descriptions that wrote.
    public var hash: (algorithm: String, digest: String)?
    public var path: String

    public init(
        tag: String, openedNanoseconds: Int64, closedNanoseconds: Int64, mode: String, bytesRead: Int64,
        bytesWritten: Int64, version: FileVersion, hash: (algorithm: String, digest: String)?, path: String
    ) {
        self.tag = tag
        self.openedNanoseconds = openedNanoseconds
        self.closedNanoseconds = closedNanoseconds
        self.mode = mode
        self.bytesRead = bytesRead
        self.bytesWritten = bytesWritten
        self.version = version
        self.hash = hash
        self.path = path
    }

    public var isWrite: Bool { mode.contains("w") }
    public var isRead: Bool { mode.contains("r") }

    public static func == (lhs: FileAccess, rhs: FileAccess) -> Bool {
        lhs.tag == rhs.tag && lhs.openedNanoseconds == rhs.openedNanoseconds
            && lhs.closedNanoseconds == rhs.closedNanoseconds && lhs.mode == rhs.mode
            && lhs.bytesRead == rhs.bytesRead && lhs.bytesWritten == rhs.bytesWritten
            && lhs.version == rhs.version && lhs.hash?.algorithm == rhs.hash?.algorithm
            && lhs.hash?.digest == rhs.hash?.digest && lhs.path == rhs.path
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(path)
        hasher.combine(openedNanoseconds)
        hasher.combine(closedNanoseconds)
    }
}
