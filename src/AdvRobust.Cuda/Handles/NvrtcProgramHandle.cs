using System.Runtime.InteropServices;
using AdvRobust.Cuda.Interop;

namespace AdvRobust.Cuda;

/// <summary>An NVRTC program (no CUDA context needed).</summary>
public sealed class NvrtcProgramHandle : SafeHandle
{
    public NvrtcProgramHandle() : base(0, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == 0;

    internal static NvrtcProgramHandle FromRaw(nint program)
    {
        var h = new NvrtcProgramHandle();
        h.SetHandle(program);
        return h;
    }

    protected override bool ReleaseHandle()
    {
        nint p = handle;
        return Nvrtc.nvrtcDestroyProgram(ref p) == nvrtcResult.NVRTC_SUCCESS;
    }
}
