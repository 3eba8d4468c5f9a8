public import RoarCore

/// Reads the git state of a project (commit, branch, uncommitted changes) by asking `git`.
public enum GitInspector {
    /// nil outside a git work tree or when git is not installed: roar works without git.
    public static func state(of directory: String) -> GitState? {
        guard
            let commit = CommandRunner.output(of: ["git", "-C", directory, "rev-parse", "HEAD"])?
                .trimmingWhitespace(), !commit.isEmpty
        else { return nil }
        let branch = CommandRunner.output(
            of: ["git", "-C", directory, "rev-parse", "--abbrev-ref", "HEAD"])?.trimmingWhitespace()
        let changes =
            CommandRunner.output(
                of: ["git", "-C", directory, "status", "--porcelain", "--untracked-files=no"]) ?? ""
        return GitState(commit: commit, branch: branch == "HEAD" ? nil : branch, isDirty: !changes.isEmpty)
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var text = Substring(self)
        while let first = text.first, first.isWhitespace { text.removeFirst() }
        while let last = text.last, last.isWhitespace { text.removeLast() }
        return String(text)
    }
}
