using System.CommandLine;
using AdvRobust.Report;
using Spectre.Console;

namespace AdvRobust.Cli.Commands;

/// <summary>
/// `advrobust report RUN_DIR... [--out DIR]`: report.md (a summary table, then per run its config essentials,
/// accuracies, time, throughput, device, commit and detection AUCs) and PNG charts (loss, clean/PGD accuracy, ROC).
/// </summary>
public static class ReportCommand
{
    public static Command Create()
    {
        var runs = new Argument<string[]>("run-dir")
        {
            Description = "run directories (manifest.json, metrics.jsonl and/or detection.json)",
            Arity = ArgumentArity.OneOrMore,
        };
        var outDir = new Option<string>("--out")
        {
            Description = "folder for report.md and the charts",
            DefaultValueFactory = _ => "report",
        };
        var command = new Command("report", "markdown summary and charts of training and detection runs") { runs, outDir };
        command.SetAction(p => Run(p.GetValue(runs)!, p.GetValue(outDir)!));
        return command;
    }

    private static int Run(string[] directories, string outDir)
    {
        var runs = ReportWriter.Load(directories);
        foreach (string file in ReportWriter.Write(runs, outDir))
            AnsiConsole.MarkupLine($"wrote [blue]{Markup.Escape(file)}[/]");
        return 0;
    }
}
