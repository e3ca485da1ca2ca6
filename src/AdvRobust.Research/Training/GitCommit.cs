namespace AdvRobust.Research.Training;

/// <summary>
/// The commit a run was started from, read from the .git folder directly (no git executable needed): the first
/// folder upwards from the start that has a .git directory, or a .git file pointing to one (a worktree or
/// submodule); HEAD is either a commit id or "ref: refs/heads/…", resolved through the loose ref file or
/// packed-refs, in the worktree's folder first and then the common one. "unknown" when there is no repository or
/// it cannot be read. Uncommitted changes are not detected.
/// A build made inside a git checkout also carries its commit: the .NET SDK appends it to the assembly's informational
/// version ("1.0.0+&lt;commit&gt;"), which <see cref="OfBuild"/> reads, so a binary run outside any checkout (a copied
/// build, the GPU machine's carried one) still names the code it runs.
/// </summary>
public static class GitCommit
{
    public const string Unknown = "unknown";

    /// <summary>
    /// The commit the code that is running was built from: the build stamp of this assembly where there is one, else
    /// the repository around the working directory, else the one around the application's folder, else
    /// <see cref="Unknown"/>.
    /// </summary>
    public static string OfRunningCode() =>
        OfBuild(typeof(GitCommit).Assembly)
        ?? Known(Find(Directory.GetCurrentDirectory()))
        ?? Find(AppContext.BaseDirectory);

    /// <summary>The commit stamped into <paramref name="assembly"/> at build time, or null when it has none.</summary>
    public static string? OfBuild(System.Reflection.Assembly assembly) =>
        FromInformationalVersion(assembly
            .GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .OfType<System.Reflection.AssemblyInformationalVersionAttribute>().FirstOrDefault()?.InformationalVersion);

    /// <summary>The commit id after the '+' of an informational version ("1.0.0+&lt;id&gt;"), or null.</summary>
    public static string? FromInformationalVersion(string? version)
    {
        int plus = version?.LastIndexOf('+') ?? -1;
        if (plus < 0) return null;
        string id = version![(plus + 1)..].Trim();
        return IsCommitId(id) ? id : null;
    }

    private static string? Known(string commit) => commit == Unknown ? null : commit;

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
