using System.Runtime.InteropServices;
using Spectre.Console;

namespace AdvRobust.Cli.Commands;

/// <summary>
/// SIGINT (Ctrl-C) and SIGTERM (what Slurm, <c>docker stop</c> and Kubernetes send) as a request to stop cleanly:
/// the first one, while <see cref="Armed"/>, cancels <see cref="Token"/> instead of killing the process, and the
/// command saves what it has and exits with <see cref="ExitCode"/> (128 + the signal number, as shells report a
/// process killed by it: 130 for SIGINT, 143 for SIGTERM). A second signal, or one while not armed, gets the default
/// action: the process dies at once.
/// </summary>
internal sealed class StopSignals : IDisposable
{
    public const int InterruptExitCode = 130, TerminateExitCode = 143;

    private readonly CancellationTokenSource _cancel = new();
    private readonly PosixSignalRegistration _interrupt, _terminate;
    private readonly string _stopping;
    private int _received;

    /// <param name="stopping">Printed when the first signal arrives, after "SIGTERM: " or "Ctrl-C: ", e.g.
    /// "stopping at the next step and saving a checkpoint".</param>
    public StopSignals(string stopping)
    {
        _stopping = stopping;
        _interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Handle);
        _terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handle);
    }

    /// <summary>Cancelled by the first signal.</summary>
    public CancellationToken Token => _cancel.Token;

    /// <summary>While false, a signal is not intercepted (for stages with nothing to save).</summary>
    public bool Armed { get; set; } = true;

    /// <summary>The signal that stopped the command, or null.</summary>
    public PosixSignal? Received => _received switch
    {
        1 => PosixSignal.SIGINT,
        2 => PosixSignal.SIGTERM,
        _ => null,
    };

    /// <summary>"SIGTERM" or "Ctrl-C (SIGINT)".</summary>
    public string Name => Received == PosixSignal.SIGTERM ? "SIGTERM" : "Ctrl-C (SIGINT)";

    /// <summary>130 after SIGINT, 143 after SIGTERM.</summary>
    public int ExitCode => Received == PosixSignal.SIGTERM ? TerminateExitCode : InterruptExitCode;

    public void Dispose()
    {
        _interrupt.Dispose();
        _terminate.Dispose();
        _cancel.Dispose();
    }

    private void Handle(PosixSignalContext context)
    {
        if (!Armed) return;
        int which = context.Signal == PosixSignal.SIGTERM ? 2 : 1;
        if (Interlocked.CompareExchange(ref _received, which, 0) != 0) return; // the second one kills
        context.Cancel = true;
        _cancel.Cancel();
        AnsiConsole.MarkupLine($"[yellow]{Markup.Escape($"{Name}: {_stopping} (a second signal aborts at once)")}[/]");
    }
}
