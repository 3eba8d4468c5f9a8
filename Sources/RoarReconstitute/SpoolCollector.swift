public import RoarCore

#if canImport(Glibc)
    import Glibc
#endif

/// Reads every spool file of one run from its spool directory.
public enum SpoolCollector {
    /// All `*.spool` files below `directory` (one level of subfolders too: one per node), parsed.
    /// Files that cannot be read become problems; nothing stops the rest from being read.
    public static func read(directory: String) -> (spools: [SpoolReader.Contents], problems: [SpoolProblem]) {
        var spools: [SpoolReader.Contents] = []
        var problems: [SpoolProblem] = []
        for path in spoolFiles(in: directory, depth: 2) {
            guard let bytes = readFile(path) else {
                problems.append(
                    SpoolProblem(
                        file: path, line: 0, kind: .corrupt, detail: "cannot read: \(String(cString: strerror(errno)))")
                )
                continue
            }
            spools.append(SpoolReader.parse(bytes, file: path))
        }
        return (spools, problems)
    }

    static func spoolFiles(in directory: String, depth: Int) -> [String] {
        guard let handle = opendir(directory) else { return [] }
        defer { closedir(handle) }
        var files: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name == "." || name == ".." { continue }
            let path = directory + "/" + name
            var info = stat()
            guard lstat(path, &info) == 0 else { continue }
            if (info.st_mode & S_IFMT) == S_IFDIR, depth > 1 {
                files += spoolFiles(in: path, depth: depth - 1)
            } else if (info.st_mode & S_IFMT) == S_IFREG, name.hasSuffix(".spool") {
                files.append(path)
            }
        }
        return files.sorted()
    }

    static func readFile(_ path: String) -> [UInt8]? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = Glibc.read(descriptor, &buffer, buffer.count)
            if count < 0 {
                if errno == EINTR { continue }
                return nil
            }
            if count == 0 { break }
            bytes += buffer[0..<count]
        }
        return bytes
    }
}
