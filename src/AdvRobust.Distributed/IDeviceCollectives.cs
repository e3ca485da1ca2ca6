using AdvRobust.Core.Tensors;

namespace AdvRobust.Distributed;

/// <summary>
/// Collectives on device memory between the ranks (NCCL on CUDA ranks): float32, in place, queued in call order on
/// the tensors' backend stream, so the backend's next operation sees the result. Every rank issues the same calls in
/// the same order. <see cref="GradientAllReduce"/> and <see cref="ReplicaState"/> use it instead of the host
/// MPI path when the caller sets one.
/// </summary>
public interface IDeviceCollectives
{
    /// <summary>What reduces, for logs and the manifest, e.g. "NCCL 2.21.5".</summary>
    string Name { get; }

    /// <summary>Every rank's <paramref name="t"/> becomes the sum over the ranks.</summary>
    void AllReduceSum(Tensor t);

    /// <summary>Rank <paramref name="root"/>'s <paramref name="t"/> to every rank.</summary>
    void Broadcast(Tensor t, int root);

    /// <summary>Runs several collectives as one group (ncclGroupStart/End).</summary>
    void Group(Action collectives);

    /// <summary>
    /// Issues the collectives that <paramref name="collectives"/> makes on a second, communication stream, after all
    /// the work queued on the compute stream so far (NCCL: an event recorded on the compute stream and
    /// cuStreamWaitEvent on the communication stream), so they overlap what the compute stream does next. The caller
    /// must not touch their tensors on the compute stream until <see cref="WaitForCommunication"/>. Without a second
    /// stream they are queued on the compute stream.
    /// </summary>
    void OnCommunicationStream(Action collectives) => collectives();

    /// <summary>The compute stream's next work waits for everything queued on the communication stream so far (an
    /// event recorded there and cuStreamWaitEvent on the compute stream); the host does not wait.</summary>
    void WaitForCommunication() { }
}
