using AdvRobust.Core.Attacks;

namespace AdvRobust.Research.Training;

/// <summary>
/// What the trainer reports, after every step and during each evaluation: the epoch (1-based) of
/// <see cref="Epochs"/>, the batch (<see cref="Batch"/> done of <see cref="Batches"/>), the global step of
/// <see cref="TotalSteps"/>, the epoch's running mean loss and accuracy, the training throughput over the epoch so
/// far, and the learning rate of the latest step. <see cref="Evaluation"/> is set while the epoch is being evaluated.
/// </summary>
public sealed record TrainProgress(
    int Epoch,
    int Epochs,
    int Batch,
    int Batches,
    long Step,
    long TotalSteps,
    double Loss,
    double Accuracy,
    double ImagesPerSecond,
    double Lr,
    EvaluationProgress? Evaluation);

/// <summary>How <see cref="Trainer.Run"/> ended: every epoch done, or stopped by the cancellation token after
/// saving a checkpoint to resume from.</summary>
public enum TrainStatus { Completed, Cancelled }

/// <summary>The outcome of <see cref="Trainer.Run"/>: how it ended, where it stands (epochs completed, steps), the
/// best PGD accuracy and its epoch, and the last epoch's metrics (null when no epoch ended in this session).</summary>
public sealed record TrainResult(
    TrainStatus Status,
    int EpochsCompleted,
    long Steps,
    double BestPgdAccuracy,
    int BestEpoch,
    EpochMetrics? LastEpoch);

/// <summary>
/// A step's loss (or one of its components) was NaN or infinite. The run stops without applying the step and without
/// writing any checkpoint, so the run folder keeps the last good one; <see cref="Epoch"/> (1-based) and
/// <see cref="Step"/> (the 0-based global optimizer step) say where it happened.
/// </summary>
public sealed class TrainingDivergedException(string message, int epoch, long step) : Exception(message)
{
    public int Epoch { get; } = epoch;
    public long Step { get; } = step;
}
