namespace AdvRobust.Research.Training;

/// <summary>
/// The commit a run was started from, read from the .git folder directly (no git executable needed): the first
/// folder upwards from the start that has a .git directory, or a .git file pointing to one (a worktree or
/// submodule); HEAD is either a commit id or "ref: refs/heads/…", resolved through the loose ref file or
/// packed-refs, in the worktree's folder first and then the common one. "unknown" when there is no repository or
/// it cannot be read. Uncommitted changes are not detected.
/// </summary>
public static class GitCommit
{
    public const string Unknown = "unknown";

    /// <summary>The commit id of the repository containing <paramref name="start"/>, or
    /// <see cref="Unknown"/>.</summary>
    public static string Find(string start)
    {
        try
        {
            for (var dir = new DirectoryInfo(Path.GetFullPath(start)); dir is not null; dir = dir.Parent)
            {
                string dotGit = Path.Combine(dir.FullName, ".git");
                string? gitDir = Directory.Exists(dotGit) ? dotGit : File.Exists(dotGit) ? FollowGitFile(dotGit) : null;
                if (gitDir is not null) return Resolve(gitDir) ?? Unknown;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // an unreadable repository is reported like a missing one: the run itself does not depend on it
        }
        return Unknown;
    }

    /// <summary>A .git file holds "gitdir: PATH" (relative to the file's folder when not absolute).</summary>
    private static string? FollowGitFile(string file)
    {
        string text = File.ReadAllText(file).Trim();
        if (!text.StartsWith("gitdir:", StringComparison.Ordinal)) return null;
        string path = text["gitdir:".Length..].Trim();
        return Path.GetFullPath(path, Path.GetDirectoryName(file)!);
    }

    private static string? Resolve(string gitDir)
    {
        string headFile = Path.Combine(gitDir, "HEAD");
        if (!File.Exists(headFile)) return null;
        string head = File.ReadAllText(headFile).Trim();
        if (!head.StartsWith("ref:", StringComparison.Ordinal)) return IsCommitId(head) ? head : null;
        string name = head["ref:".Length..].Trim();
        string commonFile = Path.Combine(gitDir, "commondir");
        string common = File.Exists(commonFile)
            ? Path.GetFullPath(File.ReadAllText(commonFile).Trim(), gitDir)
            : gitDir;
        foreach (string dir in new[] { gitDir, common }.Distinct())
        {
            string loose = Path.Combine(dir, name);
            if (File.Exists(loose) && File.ReadAllText(loose).Trim() is var id && IsCommitId(id)) return id;
            string packed = Path.Combine(dir, "packed-refs");
            if (!File.Exists(packed)) continue;
            foreach (string line in File.ReadLines(packed))
            {
                string[] parts = line.Split(' ', 2);
                if (parts.Length == 2 && parts[1].Trim() == name && IsCommitId(parts[0])) return parts[0];
            }
        }
        return null;
    }

    private static bool IsCommitId(string s) =>
        s.Length is 40 or 64 && s.All(c => c is (>= '0' and <= '9') or (>= 'a' and <= 'f'));
}
