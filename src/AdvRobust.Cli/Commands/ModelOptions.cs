using System.CommandLine;
using AdvRobust.Core.Nn.Models;

namespace AdvRobust.Cli.Commands;

/// <summary>The options every command that loads a checkpoint and a data set shares: --model, --arch, --data,
/// --data-dir (eval, detect, certify).</summary>
internal static class ModelOptions
{
    public static Option<string> Model() => new("--model") { Description = "checkpoint (.safetensors)", Required = true };

    public static Option<string> Arch() => new("--arch")
    {
        Description = "architecture: " + string.Join(", ", ModelZoo.Architectures),
        Required = true,
    };

    public static Option<string> Data() => new("--data")
    {
        Description = "fashion-mnist, mnist, cifar10 or a folder",
        Required = true,
    };

    public static Option<string?> DataDir() => new("--data-dir")
    {
        Description = "where the named data set lives (default: the system copy)",
    };
}
