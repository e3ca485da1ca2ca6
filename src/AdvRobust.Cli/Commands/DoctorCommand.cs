using System.CommandLine;
using System.Text.Json;
using AdvRobust.Cpu;
using AdvRobust.Cuda;
using Spectre.Console;

namespace AdvRobust.Cli.Commands;

/// <summary>`advrobust doctor`: which backends work here, the GPU, library versions and how kernels will load.</summary>
public static class DoctorCommand
{
    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "print the report as JSON" };
        var command = new Command("doctor", "check which backends work on this machine and why not") { json };
        command.SetAction(parse => Run(parse.GetValue(json)));
        return command;
    }

    private static int Run(bool asJson)
    {
        var items = new List<DiagnosticItem>
        {
            new("CPU backend", true, $"{CpuBackend.Instance.DeviceName}, .NET {Environment.Version}"),
        };
        var gpu = CudaDiagnostics.Probe();
        items.AddRange(gpu);
        bool cudaUsable = gpu.All(i => i.Component is "cuDNN" || i.Ok);
        items.Add(new("CUDA backend", cudaUsable, cudaUsable
            ? "usable (--device cuda)"
            : "not usable here: " + string.Join("; ", gpu.Where(i => !i.Ok && i.Component != "cuDNN").Select(i => i.Component))));

        if (asJson)
        {
            Console.WriteLine(JsonSerializer.Serialize(items, new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }
        var table = new Table().Border(TableBorder.Rounded).AddColumn("component").AddColumn("").AddColumn("details");
        foreach (var item in items)
            table.AddRow(Markup.Escape(item.Component), item.Ok ? "[green]ok[/]" : "[red]missing[/]", Markup.Escape(item.Detail));
        AnsiConsole.Write(table);
        return 0;
    }
}
