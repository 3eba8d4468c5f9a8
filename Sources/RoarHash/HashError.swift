#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why hashing a file (or reading a check list) failed: what went wrong, where, the OS error, and what to do.
///
/// A checksum that does not match is not an error: `roar hash --check` reports it as `FAILED` in its results.
public struct HashError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Hashable, Sendable {
        /// The file could not be opened (missing, no permission, a directory…).
        case cannotOpen
        /// Reading the file failed part-way.
        case cannotRead
        /// A line of a `--check` list is not `<hex digest>  <path>`.
        case malformedCheckLine
    }

    public let code: Code
    /// The file being hashed, or the check list for `malformedCheckLine`.
    public let path: String
    /// The `errno` the system call returned, or 0.
    public let underlyingErrno: Int32
    /// 1-based line of the check list, for `malformedCheckLine`.
    public let line: Int?

    public init(code: Code, path: String, underlyingErrno: Int32 = 0, line: Int? = nil) {
        self.code = code
        self.path = path
        self.underlyingErrno = underlyingErrno
        self.line = line
    }

    /// The system's text for the underlying errno, e.g. "No such file or directory".
    public var systemMessage: String {
        guard underlyingErrno != 0, let text = strerror(underlyingErrno) else { return "" }
        return String(cString: text)
    }

    public var description: String {
        switch code {
        case .cannotOpen:
            let advice =
                switch underlyingErrno {
                case ENOENT: "check the path"
                case EACCES, EPERM: "check the file's permissions"
                case EISDIR: "pass the files inside the directory instead"
                default: "check that the path names a readable file"
                }
            return "cannot open '\(path)': \(systemMessage) (errno \(underlyingErrno)); \(advice)"
        case .cannotRead:
            return "cannot read '\(path)': \(systemMessage) (errno \(underlyingErrno)); "
                + "check the device and that the file is not being replaced, then retry"
        case .malformedCheckLine:
            return "'\(path)' line \(line ?? 0) is not '<hex digest>  <path>'; "
                + "use a list written by 'roar hash' or b3sum (sha256sum with --sha256)"
        }
    }
}
