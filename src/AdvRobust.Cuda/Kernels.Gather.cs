namespace AdvRobust.Cuda;

public sealed unsafe partial class Kernels
{
    // ---- gather.cu ----
    private static readonly KernelLaunch ScatterAddRowsF32 = new("gather", "scatter_add_rows_f32", BlockSize, 0);

    public void ScatterAddRows(ulong src, ulong index, ulong dst, int n, int d)
    {
        if ((long)n * d == 0) return;
        void** a = stackalloc void*[] { &src, &index, &dst, &n, &d };
        Launch(ScatterAddRowsF32, GridFor((long)n * d), a);
    }
}
