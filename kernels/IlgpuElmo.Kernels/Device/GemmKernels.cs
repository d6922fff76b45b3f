using ILGPU;
using ILGPU.Runtime;

namespace IlgpuElmo.Kernels;

/// <summary>
/// Our own GEMM: a shared-memory tiled kernel for GPUs (OpenCL, and CUDA where cuBLAS is missing) and a
/// coarse kernel for ILGPU's CPU accelerator, where each logical thread is expensive to simulate, so a
/// thread computes a 4-row by 16-column block instead of one element (fewer threads for the same work).
/// Both follow BLAS semantics: when beta is 0, C is not read (it may hold NaN).
/// </summary>
public sealed class GemmKernels
{
    /// <summary>Rows per thread in the tiled kernel's micro-tile (and in the coarse kernel).</summary>
    public const int MicroTile = 4;
    const int CoarseCols = 16;

    readonly KernelRuntime runtime;
    readonly Action<AcceleratorStream, Index1D, GemmParams, ArrayView<float>, ArrayView<float>, ArrayView<float>> coarse;
    readonly Action<AcceleratorStream, KernelConfig, GemmParams, ArrayView<float>, ArrayView<float>, ArrayView<float>> tiled;
    readonly int groupSide;

    public GemmKernels(KernelRuntime runtime)
    {
        this.runtime = runtime;
        var acc = runtime.Accelerator;
        coarse = acc.LoadAutoGroupedKernel<Index1D, GemmParams, ArrayView<float>, ArrayView<float>, ArrayView<float>>(CoarseKernel);
        tiled = acc.LoadKernel<GemmParams, ArrayView<float>, ArrayView<float>, ArrayView<float>>(TiledKernel);
        // Square groups: 16x16 on GPUs, 4x4 on the default CPU accelerator (16 threads per group).
        groupSide = 1;
        int limit = Math.Min(256, runtime.MaxGroupSizeOf(tiled));
        while ((groupSide * 2) * (groupSide * 2) <= limit) groupSide *= 2;
    }

    /// <summary>Side of the square thread group the tiled kernel uses here.</summary>
    public int GroupSide => groupSide;

    /// <summary>Launches the coarse kernel: one thread per (batch, 4-row block, 16-column block).</summary>
    public void LaunchCoarse(AcceleratorStream stream, in GemmParams p, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c)
    {
        long threads = (long)p.BatchCount * CeilDiv(p.M, MicroTile) * CeilDiv(p.N, CoarseCols);
        if (threads == 0) return;
        var q = p;
        runtime.For(stream, threads, (s, i) => coarse(s, i, q, a, b, c), i => CoarseKernel(new Index1D(i), q, a, b, c));
    }

    /// <summary>Launches the tiled kernel: a group computes a (4*side) x (4*side) block of C.</summary>
    public void LaunchTiled(AcceleratorStream stream, in GemmParams p, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c)
    {
        if (runtime.RunOnHost) throw new InvalidOperationException("The tiled GEMM uses shared memory and cannot run as host loops.");
        if (p.M == 0 || p.N == 0 || p.BatchCount == 0) return;
        runtime.CountLaunch();
        int side = groupSide, block = side * MicroTile;
        var grid = new Index3D(CeilDiv(p.N, block), CeilDiv(p.M, block), p.BatchCount);
        var group = new Index3D(side, side, 1);
        // Shared tiles: A [side][block] and B [side][block] (k-depth of a tile = side).
        var config = new KernelConfig(grid, group, SharedMemoryConfig.RequestDynamic<float>(2 * side * block));
        tiled(stream, config, p, a, b, c);
    }

    static int CeilDiv(int a, int b) => (a + b - 1) / b;

    static float LoadA(in GemmParams p, ArrayView<float> a, long baseA, int i, int k) =>
        p.TransA != 0 ? a[baseA + (long)k * p.Lda + i] : a[baseA + (long)i * p.Lda + k];

    static float LoadB(in GemmParams p, ArrayView<float> b, long baseB, int k, int j) =>
        p.TransB != 0 ? b[baseB + (long)j * p.Ldb + k] : b[baseB + (long)k * p.Ldb + j];

    static void Store(in GemmParams p, ArrayView<float> c, long index, float sum)
    {
        float value = p.Alpha * sum;
        if (p.Beta != 0f) value += p.Beta * c[index];
        c[index] = value;
    }

    /// <summary>Coarse kernel: thread t computes rows [4r, 4r+4) x columns [16q, 16q+16) of batch b.</summary>
    public static void CoarseKernel(Index1D t, GemmParams p, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c)
    {
        int rowBlocks = CeilDiv(p.M, MicroTile), colBlocks = CeilDiv(p.N, CoarseCols);
        int batch = t / (rowBlocks * colBlocks);
        int rest = t - batch * rowBlocks * colBlocks;
        int i0 = (rest / colBlocks) * MicroTile, j0 = (rest % colBlocks) * CoarseCols;
        long baseA = batch * p.StrideA, baseB = batch * p.StrideB, baseC = batch * p.StrideC;
        int iEnd = Math.Min(i0 + MicroTile, p.M), jEnd = Math.Min(j0 + CoarseCols, p.N);
        for (int j = j0; j < jEnd; j++)
        {
            float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f;
            for (int k = 0; k < p.K; k++)
            {
                float bkj = LoadB(p, b, baseB, k, j);
                s0 += LoadA(p, a, baseA, i0, k) * bkj;
                if (i0 + 1 < iEnd) s1 += LoadA(p, a, baseA, i0 + 1, k) * bkj;
                if (i0 + 2 < iEnd) s2 += LoadA(p, a, baseA, i0 + 2, k) * bkj;
                if (i0 + 3 < iEnd) s3 += LoadA(p, a, baseA, i0 + 3, k) * bkj;
            }
            Store(p, c, baseC + (long)i0 * p.Ldc + j, s0);
            if (i0 + 1 < iEnd) Store(p, c, baseC + (long)(i0 + 1) * p.Ldc + j, s1);
            if (i0 + 2 < iEnd) Store(p, c, baseC + (long)(i0 + 2) * p.Ldc + j, s2);
            if (i0 + 3 < iEnd) Store(p, c, baseC + (long)(i0 + 3) * p.Ldc + j, s3);
        }
    }

    /// <summary>
    /// Tiled kernel. A group of side x side threads owns a block x block tile of C (block = 4 * side);
    /// thread (tx, ty) computes rows ty + side*r and columns tx + side*q for r, q in 0..3, so
    /// neighbouring threads touch neighbouring columns (coalesced stores, conflict-free shared reads).
    /// Per k-step the group stages A [side, block] and B [side, block] in shared memory.
    /// </summary>
    public static void TiledKernel(GemmParams p, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c)
    {
        int side = Group.DimX, block = side * MicroTile;
        int tx = Group.IdxX, ty = Group.IdxY, tid = ty * side + tx, threads = side * side;
        int rowBase = Grid.IdxY * block, colBase = Grid.IdxX * block, batch = Grid.IdxZ;
        long baseA = batch * p.StrideA, baseB = batch * p.StrideB, baseC = batch * p.StrideC;
        var shared = SharedMemory.GetDynamic<float>();
        var tileA = shared.SubView(0, side * block);          // [kk, row] within the tile
        var tileB = shared.SubView(side * block, side * block); // [kk, col] within the tile

        float c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
        float c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;

        for (int k0 = 0; k0 < p.K; k0 += side)
        {
            for (int e = tid; e < side * block; e += threads)
            {
                int kk = e / block, r = e - kk * block;
                int gi = rowBase + r, gk = k0 + kk, gj = colBase + r;
                tileA[e] = gi < p.M && gk < p.K ? LoadA(p, a, baseA, gi, gk) : 0f;
                tileB[e] = gj < p.N && gk < p.K ? LoadB(p, b, baseB, gk, gj) : 0f;
            }
            Group.Barrier();
            for (int kk = 0; kk < side; kk++)
            {
                int ao = kk * block + ty, bo = kk * block + tx;
                float a0 = tileA[ao], a1 = tileA[ao + side], a2 = tileA[ao + 2 * side], a3 = tileA[ao + 3 * side];
                float b0 = tileB[bo], b1 = tileB[bo + side], b2 = tileB[bo + 2 * side], b3 = tileB[bo + 3 * side];
                c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
                c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
                c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
                c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
            }
            Group.Barrier();
        }

        StoreRow(p, c, baseC, rowBase + ty, colBase + tx, side, c00, c01, c02, c03);
        StoreRow(p, c, baseC, rowBase + ty + side, colBase + tx, side, c10, c11, c12, c13);
        StoreRow(p, c, baseC, rowBase + ty + 2 * side, colBase + tx, side, c20, c21, c22, c23);
        StoreRow(p, c, baseC, rowBase + ty + 3 * side, colBase + tx, side, c30, c31, c32, c33);
    }

    static void StoreRow(in GemmParams p, ArrayView<float> c, long baseC, int i, int j, int side,
        float v0, float v1, float v2, float v3)
    {
        if (i >= p.M) return;
        long row = baseC + (long)i * p.Ldc;
        if (j < p.N) Store(p, c, row + j, v0);
        if (j + side < p.N) Store(p, c, row + j + side, v1);
        if (j + 2 * side < p.N) Store(p, c, row + j + 2 * side, v2);
        if (j + 3 * side < p.N) Store(p, c, row + j + 3 * side, v3);
    }
}
