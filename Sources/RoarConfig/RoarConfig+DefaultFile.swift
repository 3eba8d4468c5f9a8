extension RoarConfig {
    /// The `roar.toml` that `roar init` writes: every key at its default, each with a comment
    /// saying what it does. Loading it gives ``default``.
    public static func defaultFileContents() -> String {
        var lines = [
            "# roar.toml: settings for roar in this project. docs/config.md describes every key.",
            "# Each key is shown at its default; delete a line to go back to the default.",
            "# `roar config set KEY VALUE` edits this file and keeps its comments.",
            "# Environment variables ROAR_<SECTION>_<KEY> (e.g. ROAR_RAY_ENABLED=false) override it.",
        ]
        var section = ""
        for key in keys {
            if key.section != section {
                section = key.section
                lines += ["", "[\(section)]"]
            }
            lines.append("# " + key.summary)
            let value = key.value(in: .default)
            if value == .unset {
                lines.append("# \(key.field) = \(TOMLText.quoted(key.example ?? ""))")
            } else {
                lines.append("\(key.field) = \(value.tomlLiteral)")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

extension ConfigKey {
    /// A sample value for keys that are unset by default.
    var example: String? {
        kind == .url ? "https://glaas.example.com" : nil
    }
}
