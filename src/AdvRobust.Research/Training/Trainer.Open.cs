using System.Text.Json;

namespace AdvRobust.Research.Training;

/// <summary>How <see cref="Trainer"/> begins a new run or opens one to resume.</summary>
public sealed partial class Trainer
{
    private (TrainerState, RunManifest) Begin(RunEnvironment environment)
    {
        var settings = JsonSerializer.SerializeToElement(Objective.Settings, Objective.Settings.GetType(),
            ConfigSchema.Options);
        var shape = new RunShape(_model.GetType().Name, _model.ParameterCount(), _data.Train.N, _data.Train.Source,
            _data.Eval.N, _data.EvalDescription, BatchesPerEpoch, TotalSteps, _data.SyntheticDescription);
        var manifest = new RunManifest(RunManifest.CurrentFormat, "running", DateTimeOffset.Now, null, _config.Seed,
            GitCommit.OfRunningCode(), environment, _config, new ObjectiveRecord(Objective.Name, settings), shape, []);
        _run.WriteManifest(manifest);
        return (TrainerState.Start, manifest);
    }

    /// <summary>
    /// Opens a run to continue it. A completed run is left exactly as it is (its weights are loaded, nothing is
    /// written). Otherwise the run continues from resume.safetensors, or, when it stopped before writing one, starts
    /// again from step 0 with the same config and seed (the model was built with that seed, so this computes what an
    /// uninterrupted run does). Metrics lines of epochs after the resume point are dropped, since they are computed
    /// again, and so is a torn last line; each of these is announced through <see cref="Notice"/>. A
    /// <see cref="RunResumption"/> with <paramref name="environment"/> is appended to the manifest.
    /// </summary>
    private (TrainerState, RunManifest) Resume(RunEnvironment environment)
    {
        var manifest = _run.ReadManifest();
        if (manifest.Config.ToJson() != _config.ToJson())
            throw new ArgumentException($"{_run.ManifestPath}: the run was started with another config; resume it " +
                                        "with the config its manifest holds");
        if (manifest.Status == "completed")
            return (_run.CanResume ? ResumeState.Load(_run.ResumePath, _model) : TrainerState.Start, manifest);
        TrainerState state;
        if (_run.CanResume)
        {
            state = ResumeState.Load(_run.ResumePath, _model);
        }
        else
        {
            state = TrainerState.Start;
            Notice?.Invoke($"{_run.Path} has no resume checkpoint (the run stopped before its first one): restarting " +
                           $"it from step 0 with the config and seed {_config.Seed} in its manifest, which computes " +
                           "what an uninterrupted run does (bit for bit on the CPU)" +
                           (File.Exists(_run.BestPath) ? "; best.safetensors is replaced when epoch 1 ends" : ""));
        }
        var (dropped, torn) = _run.Metrics.KeepEpochs(state.Epoch);
        if (torn is not null)
            Notice?.Invoke($"{_run.MetricsPath}: dropped a torn last line ({torn.Length} characters, an epoch record " +
                           "cut short by the kill); it is computed again");
        if (dropped.Count > 0)
            Notice?.Invoke($"{_run.MetricsPath}: dropped the line{(dropped.Count == 1 ? "" : "s")} of epoch" +
                           $"{(dropped.Count == 1 ? "" : "s")} {string.Join(", ", dropped)}, written after the " +
                           $"resume point (epoch {state.Epoch + 1}, step {state.Step}); they are computed again");
        var resumption = new RunResumption(DateTimeOffset.Now, state.Epoch + 1, state.Step, GitCommit.OfRunningCode(),
            environment);
        manifest = manifest with
        {
            Status = "running", EndTime = null, Resumptions = [.. manifest.Resumptions, resumption],
        };
        _run.WriteManifest(manifest);
        return (state, manifest);
    }

    /// <summary>The result of resuming a completed run: where it stands and its last metrics line.</summary>
    private TrainResult AlreadyComplete(TrainerState state)
    {
        var lines = _run.Metrics.Read();
        Notice?.Invoke(_run.CompletedNotice() ?? "");
        return new TrainResult(TrainStatus.Completed, state.Epoch, state.Step, state.BestPgdAccuracy, state.BestEpoch,
            lines.Count > 0 ? lines[^1] : null);
    }
}
