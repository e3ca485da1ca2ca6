namespace AdvRobust.Cuda;

/// <summary>What NVRTC produced for one program: the cubin and the program log (warnings, and ptxas's resource report
/// with <c>--ptxas-options=-v</c>, which <see cref="KernelResources"/> reads).</summary>
public sealed record NvrtcCompilation(byte[] Cubin, string Log);
