using AdvRobust.Cpu;

/// <summary>
/// For the whole test run, every new CPU tensor starts as NaN (see <see cref="CpuBackend.PoisonNewTensors"/>): an op
/// that reads memory it never wrote turns its result NaN and fails its test, as it would misbehave on the GPU, whose
/// fresh memory is not zeroed either. Outside every namespace, so NUnit runs it once for the whole assembly.
/// </summary>
[SetUpFixture]
public sealed class PoisonSetup
{
    [OneTimeSetUp]
    public void Poison() => CpuBackend.PoisonNewTensors = true;
}
