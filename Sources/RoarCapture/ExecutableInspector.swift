#if canImport(Glibc)
    import Glibc
#endif

/// Looks at a program before it runs: a statically linked ELF never loads the preload library,
/// so its file I/O cannot be seen and the user must be told.
public enum ExecutableInspector {
    /// The file `name` names, searched on `PATH` like `execvp` does.
    public static func resolve(_ name: String, path: String?) -> String? {
        if name.contains("/") { return access(name, X_OK) == 0 ? name : nil }
        for directory in (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// True for an ELF executable without a `PT_INTERP` program header (no dynamic loader, so no
    /// LD_PRELOAD). Scripts and anything unreadable are not static.
    public static func isStaticELF(_ path: String) -> Bool {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var header = [UInt8](repeating: 0, count: 64)
        guard pread(descriptor, &header, 64, 0) == 64, header[0...3] == [0x7F, 0x45, 0x4C, 0x46], header[4] == 2
        else { return false }  // only 64-bit ELF is inspected
        func read16(_ offset: Int) -> Int { Int(header[offset]) | Int(header[offset + 1]) << 8 }
        func read64(_ bytes: [UInt8], _ offset: Int) -> Int {
            (0..<8).reduce(0) { $0 | Int(bytes[offset + $1]) << (8 * $1) }
        }
        let programHeaderOffset = read64(header, 32)
        let entrySize = read16(54)
        let entryCount = read16(56)
        guard entrySize >= 4, entryCount > 0, entryCount < 4096 else { return false }
        var table = [UInt8](repeating: 0, count: entrySize * entryCount)
        guard pread(descriptor, &table, table.count, off_t(programHeaderOffset)) == table.count else { return false }
        let interpreterType: UInt32 = 3  // PT_INTERP
        for index in 0..<entryCount {
            let base = index * entrySize
            let type =
                UInt32(table[base]) | UInt32(table[base + 1]) << 8 | UInt32(table[base + 2]) << 16
                | UInt32(table[base + 3]) << 24
            if type == interpreterType { return false }
        }
        return true
    }
}
