namespace AdvRobust.Core.Attacks;

/// <summary>
/// Progress of an evaluation: <paramref name="Done"/> of <paramref name="Total"/> samples of the current stage
/// ("clean" or an attack name; StageIndex counts from 1 to Stages), and how many samples are still robust.
/// </summary>
public readonly record struct EvaluationProgress(
    string Stage, int StageIndex, int Stages, int Done, int Total, int Robust);
