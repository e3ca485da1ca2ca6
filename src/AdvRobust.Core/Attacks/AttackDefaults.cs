namespace AdvRobust.Core.Attacks;

/// <summary>Execution defaults shared by the iterative attacks.</summary>
public static class AttackDefaults
{
    /// <summary>
    /// Steps between reads of a run's all-fooled flag (<see cref="BestState.AllSucceeded"/>, one 4-byte read and
    /// synchronization). 10 keeps PGD-10 free of any read inside its steps and costs APGD-100 ten reads.
    /// </summary>
    public const int EarlyStopEvery = 10;
}
