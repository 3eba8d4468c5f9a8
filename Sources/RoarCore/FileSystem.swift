// RoarCore: the value types every module shares (Job, Ref, FileVersion, RecordedJob), the spool format reader
// and its `E` events (Ray tasks, S3 operations), the tag rules, the one rule for read digests and version matching
// (ReadDigestPolicy, VersionMatch), path filter and restoration, the lineage graph, and POSIX file helpers.
// No Foundation beyond FoundationEssentials: roar-agent links it statically.

#if canImport(Glibc)
    import Glibc
#endif
/// The POSIX file operations roar's tracing side and the node agent share, with errors that name
/// the file. Plain syscalls: `roar-agent` links this statically and must stay small (no
/// Foundation) and never block on anything but the files themselves.
public enum FileSystem {
    /// A file operation that failed: which file, what was attempted, and why.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var path: String
        public var action: String
        public var reason: String

        /// `errno` of the failing call, when there was one.
        public var errorNumber: Int32?

        /// A failure of the call just made: its `errno`.
        public init(_ path: String, _ action: String) {
            self.init(path, action, errno: errno)
        }

        public init(_ path: String, _ action: String, errno code: Int32) {
            self.path = path
            self.action = action
            self.reason = String(cString: strerror(code))
            self.errorNumber = code
        }

        public init(_ path: String, _ action: String, reason: String) {
            self.path = path
            self.action = action
            self.reason = reason
        }

        public var description: String { "\(path): cannot \(action): \(reason)" }
    }

    /// `stat` of a regular file as a spool records it; nil for a missing or non-regular file.
    public static func version(ofFileAt path: String) -> FileVersion? {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return version(of: info)
    }

    static func version(of info: stat) -> FileVersion {
        FileVersion(
            device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: Int64(info.st_size),
            modifiedNanoseconds: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec))
    }

    public static func version(ofDescriptor descriptor: Int32) -> FileVersion? {
        var info = stat()
        guard fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return version(of: info)
    }

    /// Bytes an unprivileged writer can still use on the file system holding `path`; nil when unknown.
    public static func availableBytes(at path: String) -> UInt64? {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return nil }
        return UInt64(info.f_bavail) * UInt64(info.f_frsize)
    }

    public static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    public static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// Names in a directory (not `.`/`..`), unsorted; what `lstat` says each is, so symlinks are not followed.
    public static func entries(of directory: String) throws(Failure) -> [(
        name: String, isDirectory: Bool, isFile: Bool
    )] {
        guard let handle = opendir(directory) else { throw Failure(directory, "list the directory") }
        defer { closedir(handle) }
        var result: [(String, Bool, Bool)] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            var info = stat()
            guard lstat(directory + "/" + name, &info) == 0 else { continue }  // vanished meanwhile
            let kind = info.st_mode & S_IFMT
            result.append((name, kind == S_IFDIR, kind == S_IFREG))
        }
        return result
    }

    /// Up to `count` bytes of a file from `offset` (fewer at its end).
    public static func read(_ path: String, from offset: Int64, count: Int) throws(Failure) -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw Failure(path, "open for reading") }
        defer { close(descriptor) }
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let got = bytes.withUnsafeMutableBytes { buffer in
                pread(descriptor, buffer.baseAddress! + filled, count - filled, off_t(offset) + off_t(filled))
            }
            if got < 0 {
                if errno == EINTR { continue }
                throw Failure(path, "read at offset \(offset + Int64(filled))")
            }
            if got == 0 { break }
            filled += got
        }
        bytes.removeLast(count - filled)
        return bytes
    }

    /// The whole file; nil when it does not exist.
    public static func contents(of path: String) throws(Failure) -> [UInt8]? {
        var info = stat()
        guard stat(path, &info) == 0 else {
            if errno == ENOENT { return nil }
            throw Failure(path, "stat")
        }
        return try read(path, from: 0, count: Int(info.st_size))
    }

    /// Writes `bytes` to `path` through a temporary file in the same directory and a rename, so
    /// readers see either the old file or the whole new one.
    public static func replaceAtomically(_ path: String, with bytes: [UInt8], temporarySuffix: String = ".tmp")
        throws(Failure)
    {
        let temporary = path + temporarySuffix
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw Failure(temporary, "create") }
        var written = 0
        while written < bytes.count {
            let done = bytes.withUnsafeBytes { buffer in
                write(descriptor, buffer.baseAddress! + written, bytes.count - written)
            }
            if done < 0 {
                if errno == EINTR { continue }
                let failure = Failure(temporary, "write")
                close(descriptor)
                unlink(temporary)
                throw failure
            }
            written += done
        }
        guard close(descriptor) == 0 else {
            let failure = Failure(temporary, "write (close)")
            unlink(temporary)
            throw failure
        }
        guard rename(temporary, path) == 0 else {
            let failure = Failure(path, "rename \(temporary) into place")
            unlink(temporary)
            throw failure
        }
    }

    /// Creates a directory and its parents (mode 0755); fine when it exists.
    public static func makeDirectories(_ path: String) throws(Failure) {
        if isDirectory(path) { return }
        let parent = parentDirectory(of: path)
        if parent != path && !parent.isEmpty { try makeDirectories(parent) }
        guard mkdir(path, 0o755) == 0 || errno == EEXIST else { throw Failure(path, "create the directory") }
    }

    public static func parentDirectory(of path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return "." }
        return slash == trimmed.startIndex ? "/" : String(trimmed[..<slash])
    }

    /// The names in a directory (not `.`/`..`), unsorted; empty when it cannot be read.
    public static func names(in directory: String) -> [String] {
        guard let handle = opendir(directory) else { return [] }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Creates one directory (mode 0700, private to the user); fine when it exists.
    public static func makeDirectory(_ path: String, mode: UInt32 = 0o700) throws(Failure) {
        guard mkdir(path, mode) == 0 || errno == EEXIST else { throw Failure(path, "create the directory") }
    }

    /// Removes a directory and everything in it, without following symbolic links; what cannot be
    /// removed is left in place.
    public static func removeTree(_ path: String) {
        for name in names(in: path) {
            let child = path + "/" + name
            var info = stat()
            if lstat(child, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR {
                removeTree(child)
            } else {
                unlink(child)
            }
        }
        rmdir(path)
    }
}
