using System.Diagnostics;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using ILGPU;
using ILGPU.Runtime;

namespace IlgpuElmo.Kernels;

/// <summary>
/// A packed, cache-blocked GEMM on the host (BLIS's five loops around a micro-kernel), for ILGPU's CPU
/// accelerator in host execution, whose buffers are host memory. C = alpha op(A) op(B) + beta C,
/// row-major, any transpose, leading dimension and strided batch.
///
/// Blocking, outermost first (sizes in <see cref="HostGemmBlocking"/>, which says why they fit L1/L2/L3):
/// columns of C in blocks of NC; K in blocks of KC, where a KC x NC block of op(B) is packed into NR-wide
/// micro-panels (k-major, zero-padded); rows in blocks of MC; then every MR x NR tile of C gets one
/// micro-kernel call that keeps the tile in registers over the KC block, reading its MR rows of op(A) where
/// they lie (<see cref="APanel"/>; only a last tile of fewer than MR rows is packed, zero-padded). A is not
/// packed because the model's GEMMs have few column panels per A block (the char CNN's N = 64 filters,
/// dZ W^T's N = 128): packing A cost as much as the multiply-adds it served (benchmarks/RESULTS.md, "The host GEMM before and after").
/// The micro-kernels hold MR x NR = 6 x (2 vectors) of C in 12 registers: <see cref="Kernel6x32Avx512"/>
/// (Vector512, 16 lanes), <see cref="Kernel6x16Avx2"/> (Vector256) and <see cref="Kernel6x8Vector128"/>
/// for machines without either. Packing pads to full tiles, so edge tiles run the same kernel into a
/// scratch tile and copy what lies inside C. A GEMM of at most MR rows (the bias gradients, ones x dZ) uses
/// each element of B once: the kernel reads B in place.
///
/// A B that many GEMMs read (a layer's weight, read at every time step) can be packed once
/// (<see cref="PackB"/>: every KC block of op(B) in NR-wide micro-panels over all N columns, the layout each
/// call would have packed) and multiplied from the packed copy (<see cref="RunPackedB"/>); the tiles and
/// sums are the same, so the results are the same bit for bit.
///
/// Threads split C into contiguous runs of whole tiles, along N when N is at least M (the thin recurrent
/// GEMMs: batch rows x 4H columns) and along M otherwise (the char CNN's tall, thin GEMMs); each worker
/// packs what it needs itself, so no worker waits for another. Small strided batches are split by batch
/// instead. Every element of C is summed in the same order (k ascending inside each KC block, the blocks
/// added into C in order) whatever the number of workers, so results are bit-reproducible.
/// </summary>
public sealed unsafe class HostGemm : IGemmBackend
{
    /// <summary>Below this many multiply-adds a GEMM runs on the calling thread: a parallel loop costs more.</summary>
    const long ParallelWork = 1L << 20;

    /// <summary>B micro-panels per block from which A is packed whole (packing costs one pass over the A block; each panel reads it once).</summary>
    const int PackedAColumns = 8;

    const int MR = HostGemmBlocking.Rows;

    readonly HostGemmKernel kernelKind;
    readonly int KC, MC, NC, nr;
    readonly int? fixedWorkers;
    readonly bool packRowMajorA;
    readonly delegate*<int, APanel, float*, int, float*, int, float, float, void> kernel;
    long multiplyAdds;

    /// <param name="kernelKind">Which micro-kernel; by default the widest the machine runs.</param>
    /// <param name="workers">Threads per GEMM; by default those of the calling thread's pool (<see cref="HostWorkers.Shared"/>).</param>
    /// <param name="blocking">Block sizes; by default <see cref="HostGemmBlocking.For"/> the kernel and this machine's caches.
    /// Its NR must be the kernel's; tests pass small KC, MC and NC to run every loop at small sizes.</param>
    public HostGemm(HostGemmKernel? kernelKind = null, int? workers = null, HostGemmBlocking? blocking = null)
    {
        this.kernelKind = kernelKind ?? BestKernel;
        if (!IsSupported(this.kernelKind))
            throw new PlatformNotSupportedException($"The host GEMM kernel {this.kernelKind} needs SIMD this processor lacks.");
        kernel = this.kernelKind switch
        {
            HostGemmKernel.Avx512 => &Kernel6x32Avx512,
            HostGemmKernel.Avx2 => &Kernel6x16Avx2,
            _ => &Kernel6x8Vector128,
        };
        Blocking = blocking ?? HostGemmBlocking.For(this.kernelKind, HostCaches.Machine);
        if (Blocking.MR != MR || Blocking.NR != HostGemmBlocking.ColumnsOf(this.kernelKind) || Blocking.KC < 1
            || Blocking.MC < Blocking.MR || Blocking.MC % Blocking.MR != 0 || Blocking.NC < Blocking.NR || Blocking.NC % Blocking.NR != 0)
            throw new ArgumentException($"Host GEMM blocking {Blocking} does not fit the {this.kernelKind} kernel (MR {MR}, " +
                $"NR {HostGemmBlocking.ColumnsOf(this.kernelKind)}; MC and NC whole multiples of them).", nameof(blocking));
        (KC, MC, NC, nr) = (Blocking.KC, Blocking.MC, Blocking.NC, Blocking.NR);
        fixedWorkers = workers is { } w ? Math.Max(1, w) : null;
        packRowMajorA = this.kernelKind != HostGemmKernel.Avx512;
    }

    public static HostGemmKernel BestKernel =>
        Vector512.IsHardwareAccelerated ? HostGemmKernel.Avx512
        : Vector256.IsHardwareAccelerated ? HostGemmKernel.Avx2 : HostGemmKernel.Vector128;

    public static bool IsSupported(HostGemmKernel kind) => kind switch
    {
        HostGemmKernel.Avx512 => Vector512.IsHardwareAccelerated,
        HostGemmKernel.Avx2 => Vector256.IsHardwareAccelerated,
        _ => true,
    };

    public string Name => $"host-packed-{kernelKind.ToString().ToLowerInvariant()}";

    public HostGemmKernel Kernel => kernelKind;

    public HostGemmBlocking Blocking { get; }

    int Workers => fixedWorkers ?? HostWorkers.Shared.Threads;

    /// <summary>Multiply-adds this GEMM has done since it was made.</summary>
    public long MultiplyAdds => Interlocked.Read(ref multiplyAdds);

    public void Run(AcceleratorStream stream, in GemmParams p, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c)
    {
        if (p.M == 0 || p.N == 0 || p.BatchCount == 0) return;
        DeviceCounters.Of(stream.Accelerator).CountLaunches();
        Note(new(HostGemmCallKind.Run, p));
        fixed (float* pa = a.AsHostSpan(), pb = b.AsHostSpan(), pc = c.AsHostSpan())
            RunBatches(p, pa, pb, pc);
        Count(p);
    }

    /// <summary>K x round_up(N, NR) floats: every KC block of op(B) as NR-wide micro-panels over all columns.</summary>
    public long PackedBLength(int k, int n) => (long)Math.Max(k, 1) * RoundUp(n, nr);

    /// <summary>
    /// Packs op(B) [k, n] into <paramref name="packed"/> (<see cref="PackedBLength"/> floats): block after block
    /// of KC rows, each [kc, round_up(n, NR)] as NR-wide micro-panels, [kc, NR] each (k-major, columns past n zero).
    /// B is [k, n] with leading dimension ldb, or [n, k] when <paramref name="transB"/>. The workers split the panels.
    /// </summary>
    public void PackB(AcceleratorStream stream, int k, int n, bool transB, int ldb, ArrayView<float> b, ArrayView<float> packed)
    {
        if (k == 0 || n == 0) return;
        Note(new(HostGemmCallKind.Pack, new GemmParams(0, n, k, 1f, 0f, 0, transB ? 1 : 0, 0, ldb, 0, 0, 0, 0, 1)));
        int panels = CeilDiv(n, nr), width = panels * nr;
        int parts = (int)Math.Min(Math.Min(Workers, panels), Math.Max(1, (long)k * n / (ParallelWork / 16)));
        fixed (float* pb = b.AsHostSpan(), pp = packed.AsHostSpan())
        {
            nint bp = (nint)pb, dp = (nint)pp;
            HostWorkers.Shared.Run(parts, w =>
            {
                int first = (int)((long)panels * w / parts) * nr, last = Math.Min((int)((long)panels * (w + 1) / parts) * nr, n);
                for (int pc = 0; pc < k; pc += KC)
                {
                    int kc = Math.Min(KC, k - pc);
                    float* dst = (float*)dp + (long)pc * width + (long)first * kc;
                    if (transB) PackBTransposedPanels((float*)bp, ldb, pc, kc, first, last - first, nr, dst);
                    else PackBPanels((float*)bp, ldb, pc, kc, first, last - first, nr, dst);
                }
            });
        }
    }

    /// <summary>As <see cref="Run"/> with op(B) read from a <see cref="PackB"/> copy of [p.K, p.N]; p's TransB, Ldb and StrideB are not used, and BatchCount must be 1.</summary>
    public void RunPackedB(AcceleratorStream stream, in GemmParams p, ArrayView<float> a, ArrayView<float> packedB, ArrayView<float> c)
    {
        if (p.BatchCount != 1) throw new ArgumentException($"A GEMM with a packed B runs one batch entry, not {p.BatchCount}.");
        if (packedB.Length < PackedBLength(p.K, p.N))
            throw new ArgumentException($"The packed B holds {packedB.Length} floats; [{p.K}, {p.N}] packed needs {PackedBLength(p.K, p.N)}.");
        if (p.M == 0 || p.N == 0) return;
        DeviceCounters.Of(stream.Accelerator).CountLaunches();
        Note(new(HostGemmCallKind.RunPackedB, p));
        fixed (float* pa = a.AsHostSpan(), pb = packedB.AsHostSpan(), pc = c.AsHostSpan())
            RunSplit(p, pa, new BSource(pb, RoundUp(p.N, nr)), pc);
        Count(p);
    }

    /// <summary>
    /// One batch entry on the calling thread only, from raw host pointers: no worker split, no launch counted, not
    /// recorded. For host routines that run GEMMs on blocks of their own inside one of their parts (the fused tail
    /// softmax, <see cref="NarrowSoftmaxHost"/>); the sums are those of <see cref="Run"/> and <see cref="RunPackedB"/>.
    /// With <paramref name="packedB"/>, b is a <see cref="PackB"/> copy of op(B) [p.K, p.N].
    /// </summary>
    public void RunOnThisThread(in GemmParams p, float* a, float* b, bool packedB, float* c)
    {
        if (p.M == 0 || p.N == 0) return;
        RunOne(p, a, packedB ? new BSource(b, RoundUp(p.N, nr)) : new BSource(b), c, 0, p.M, 0, p.N);
    }

    void Count(in GemmParams p) => Interlocked.Add(ref multiplyAdds, (long)p.M * p.N * p.K * p.BatchCount);

    List<HostGemmCall>? recording;

    /// <summary>Runs <paramref name="work"/> and returns the GEMM calls and packs it made through this GEMM, in order (for <see cref="TimeAlone"/>).</summary>
    public IReadOnlyList<HostGemmCall> Record(Action work)
    {
        var calls = new List<HostGemmCall>();
        recording = calls;
        try
        {
            work();
        }
        finally
        {
            recording = null;
        }
        return calls;
    }

    void Note(HostGemmCall call)
    {
        if (recording is { } calls) lock (calls) calls.Add(call);
    }

    /// <summary>
    /// Seconds the <paramref name="calls"/> take run again back to back on their own (the best of
    /// <paramref name="repeats"/>, after one untimed run), on scratch operands of their sizes filled with
    /// random numbers: the GEMM's own speed at a piece of work's shapes, without the work between its calls.
    /// </summary>
    public double TimeAlone(Accelerator accelerator, IReadOnlyList<HostGemmCall> calls, int repeats = 3)
    {
        long lengthA = 1, lengthB = 1, lengthC = 1, lengthPacked = 1;
        foreach (var call in calls)
        {
            var p = call.Params;
            if (call.Kind == HostGemmCallKind.Pack)
            {
                lengthB = Math.Max(lengthB, Needed(p.TransB != 0 ? p.N : p.K, p.TransB != 0 ? p.K : p.N, p.Ldb, 0, 1));
                lengthPacked = Math.Max(lengthPacked, PackedBLength(p.K, p.N));
                continue;
            }
            lengthA = Math.Max(lengthA, Needed(p.TransA != 0 ? p.K : p.M, p.TransA != 0 ? p.M : p.K, p.Lda, p.StrideA, p.BatchCount));
            if (call.Kind == HostGemmCallKind.RunPackedB) lengthPacked = Math.Max(lengthPacked, PackedBLength(p.K, p.N));
            if (call.Kind == HostGemmCallKind.Run)
                lengthB = Math.Max(lengthB, Needed(p.TransB != 0 ? p.N : p.K, p.TransB != 0 ? p.K : p.N, p.Ldb, p.StrideB, p.BatchCount));
            lengthC = Math.Max(lengthC, Needed(p.M, p.N, p.Ldc, p.StrideC, p.BatchCount));
        }
        using var a = accelerator.Allocate1D<float>(lengthA);
        using var b = accelerator.Allocate1D<float>(lengthB);
        using var c = accelerator.Allocate1D<float>(lengthC);
        using var packed = accelerator.Allocate1D<float>(lengthPacked);
        var random = new Random(1);
        foreach (var buffer in new[] { a, b, c })
        {
            var span = ((ArrayView<float>)buffer.View).AsHostSpan();
            for (int i = 0; i < span.Length; i++) span[i] = (float)random.NextDouble() - 0.5f;
        }
        var stream = accelerator.DefaultStream;
        void RunAll()
        {
            foreach (var call in calls)
            {
                var p = call.Params;
                if (call.Kind == HostGemmCallKind.Pack) PackB(stream, p.K, p.N, p.TransB != 0, p.Ldb, b.View, packed.View);
                else if (call.Kind == HostGemmCallKind.RunPackedB) RunPackedB(stream, p, a.View, packed.View, c.View);
                else Run(stream, p, a.View, b.View, c.View);
            }
        }
        RunAll();
        double best = double.MaxValue;
        for (int r = 0; r < repeats; r++)
        {
            long start = Stopwatch.GetTimestamp();
            RunAll();
            best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
        return best;
    }

    static long Needed(int rows, int cols, int ld, long stride, int batch) =>
        rows == 0 || cols == 0 ? 1 : (batch - 1) * stride + (long)(rows - 1) * ld + cols;

    void RunBatches(GemmParams p, float* a, float* b, float* c)
    {
        long work = (long)p.M * p.N * Math.Max(p.K, 1);
        int workers = Workers, perBatch = WorkersPerBatch(p);
        int byBatch = (int)Math.Min(Math.Min(workers, p.BatchCount), Math.Max(1, work * p.BatchCount / ParallelWork));
        nint ap = (nint)a, bp = (nint)b, cp = (nint)c;
        if (perBatch < workers && byBatch > perBatch)
        {
            HostWorkers.Shared.Run(byBatch, w =>
            {
                for (long q = p.BatchCount * (long)w / byBatch; q < p.BatchCount * (long)(w + 1) / byBatch; q++)
                    RunOne(p, (float*)ap + q * p.StrideA, new BSource((float*)bp + q * p.StrideB), (float*)cp + q * p.StrideC, 0, p.M, 0, p.N);
            });
            return;
        }
        for (long q = 0; q < p.BatchCount; q++)
            RunSplit(p, a + q * p.StrideA, new BSource(b + q * p.StrideB), c + q * p.StrideC);
    }

    /// <summary>Threads for one batch entry: at most one per tile along the split dimension, and one per <see cref="ParallelWork"/> multiply-adds.</summary>
    int WorkersPerBatch(in GemmParams p)
    {
        long work = (long)p.M * p.N * Math.Max(p.K, 1);
        var (tiles, _) = Split(p);
        return (int)Math.Min(Math.Min(Workers, tiles), Math.Max(1, work / ParallelWork));
    }

    /// <summary>Along which dimension the workers split C, and into how many whole tiles.</summary>
    (int Tiles, bool Columns) Split(in GemmParams p)
    {
        int rowTiles = CeilDiv(p.M, MR), colTiles = CeilDiv(p.N, nr);
        bool columns = p.N >= p.M ? colTiles > 1 : rowTiles <= 1;
        return (columns ? colTiles : rowTiles, columns);
    }

    /// <summary>One batch entry, its tiles split over the workers.</summary>
    void RunSplit(GemmParams p, float* a, BSource b, float* c)
    {
        int perBatch = WorkersPerBatch(p);
        if (perBatch <= 1)
        {
            RunOne(p, a, b, c, 0, p.M, 0, p.N);
            return;
        }
        var (tiles, splitColumns) = Split(p);
        nint ap = (nint)a, cp = (nint)c;
        int step = splitColumns ? nr : MR;
        HostWorkers.Shared.Run(perBatch, w =>
        {
            // Whole tiles per worker, so the tile grid (and every sum) is the one a single thread uses.
            int first = (int)((long)tiles * w / perBatch) * step, last = Math.Min((int)((long)tiles * (w + 1) / perBatch) * step, splitColumns ? p.N : p.M);
            if (splitColumns) RunOne(p, (float*)ap, b, (float*)cp, 0, p.M, first, last);
            else RunOne(p, (float*)ap, b, (float*)cp, first, last, 0, p.N);
        });
    }

    /// <summary>C[rows, cols] of one batch entry, on the calling thread: the five loops.</summary>
    void RunOne(in GemmParams p, float* a, BSource source, float* c, int rowStart, int rowEnd, int colStart, int colEnd)
    {
        if (p.K == 0)
        {
            ScaleC(c, p.Ldc, rowStart, rowEnd, colStart, colEnd, p.Beta);
            return;
        }
        float* b = source.Data;
        var buffers = PackBuffers.ForThread(MC * KC, source.IsPacked ? 0 : KC * Math.Min(NC, RoundUp(colEnd - colStart, nr)));
        float* packA = buffers.A, packB = buffers.B;
        float* tile = stackalloc float[MR * 32];
        for (int jc = colStart; jc < colEnd; jc += NC)
        {
            int nc = Math.Min(NC, colEnd - jc);
            for (int pc = 0; pc < p.K; pc += KC)
            {
                int kc = Math.Min(KC, p.K - pc);
                float beta = pc == 0 ? p.Beta : 1f;
                // A few rows (bias gradients: ones x dZ) use each B element once or twice: read B where it lies.
                bool bInPlace = !source.IsPacked && p.TransB == 0 && rowEnd - rowStart <= MR;
                // Packed once for all calls: this block's panels start at row pc of the [K, width] packed copy.
                if (source.IsPacked) packB = b + (long)pc * source.PackedWidth + (long)jc * kc;
                else if (p.TransB != 0) PackBTransposedPanels(b, p.Ldb, pc, kc, jc, nc, nr, packB);
                else if (!bInPlace) PackBPanels(b, p.Ldb, pc, kc, jc, nc, nr, packB);
                for (int ic = rowStart; ic < rowEnd; ic += MC)
                {
                    int mc = Math.Min(MC, rowEnd - ic);
                    // Whole row tiles read A where it lies; a last tile of fewer than MR rows is packed once, zero-padded.
                    // When many B panels reuse the A block it is packed whole: a transposed A (the weight gradients' X^T)
                    // has its tile's rows lda apart, one cache line per k, crowding a few L1 sets out of the B panel; a
                    // row-major A feeds the 6-row tile from 6 streams, which held AVX2's kernel to 75-80 % of what it
                    // reaches from one packed stream (interleaved medians, Zen 4; AVX-512's kernel did not gain).
                    bool packWholeA = (p.TransA != 0 || packRowMajorA) && nc >= PackedAColumns * nr;
                    int edgeRows = packWholeA ? mc : mc % MR, edgeStart = mc - edgeRows;
                    if (edgeRows != 0 && p.TransA != 0) PackATransposed(a, p.Lda, ic + edgeStart, edgeRows, pc, kc, packA);
                    else if (edgeRows != 0) PackA(a, p.Lda, ic + edgeStart, edgeRows, pc, kc, packA);
                    for (int jr = 0; jr < nc; jr += nr)
                    {
                        int cols = Math.Min(nr, nc - jr);
                        float* bPanel = packB + (long)jr * kc;
                        int ldb = nr;
                        if (bInPlace && cols == nr) { bPanel = b + (long)pc * p.Ldb + jc + jr; ldb = p.Ldb; }
                        else if (bInPlace) PackBPanels(b, p.Ldb, pc, kc, jc + jr, cols, nr, bPanel);
                        for (int ir = 0; ir < mc; ir += MR)
                        {
                            int rows = Math.Min(MR, mc - ir);
                            // A's element (r, k) of this tile lies at aTile[k * aStep + r * aRow].
                            float* aTile = packA + (long)Math.Max(0, ir - edgeStart) * kc;
                            nint aStep = MR, aRow = 1;
                            if (ir < edgeStart && p.TransA != 0) { aTile = a + (long)pc * p.Lda + ic + ir; aStep = p.Lda; }
                            else if (ir < edgeStart) { aTile = a + (long)(ic + ir) * p.Lda + pc; aStep = 1; aRow = p.Lda; }
                            var aPanel = new APanel(aTile, aStep, aRow);
                            float* cTile = c + (long)(ic + ir) * p.Ldc + jc + jr;
                            if (rows == MR && cols == nr) kernel(kc, aPanel, bPanel, ldb, cTile, p.Ldc, p.Alpha, beta);
                            else
                            {
                                if (rows <= MR / 2) FewRows(rows, kc, aPanel, bPanel, ldb, tile, nr);
                                else kernel(kc, aPanel, bPanel, ldb, tile, nr, 1f, 0f);
                                StoreEdge(tile, nr, cTile, p.Ldc, rows, cols, p.Alpha, beta);
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>op(A)[i0.., k0..] as MR-row micro-panels, each [kc, MR] (k-major), rows past mc zero. A is [M, K] with leading dim lda.</summary>
    static void PackA(float* a, int lda, int i0, int mc, int k0, int kc, float* dst)
    {
        for (int ir = 0; ir < mc; ir += MR, dst += MR * kc)
        {
            int rows = Math.Min(MR, mc - ir);
            int k8 = rows == MR && Avx.IsSupported ? kc / 8 * 8 : 0;
            for (int k = 0; k < k8; k += 8) Transpose6x8(a + (long)(i0 + ir) * lda + k0 + k, lda, dst + k * MR);
            if (k8 == kc) continue;
            for (int r = 0; r < MR; r++)
            {
                float* src = a + (long)(i0 + ir + r) * lda + k0;
                if (r < rows) for (int k = k8; k < kc; k++) dst[k * MR + r] = src[k];
                else for (int k = k8; k < kc; k++) dst[k * MR + r] = 0f;
            }
        }
    }

    /// <summary>As <see cref="PackA"/> when A is stored transposed, [K, M] with leading dim lda.</summary>
    static void PackATransposed(float* a, int lda, int i0, int mc, int k0, int kc, float* dst)
    {
        for (int ir = 0; ir < mc; ir += MR, dst += MR * kc)
        {
            int rows = Math.Min(MR, mc - ir);
            for (int k = 0; k < kc; k++)
            {
                float* src = a + (long)(k0 + k) * lda + i0 + ir;
                float* d = dst + k * MR;
                if (rows == MR)
                {
                    // A whole tile row: one 4-float vector and one 8-byte move instead of six scalar copies.
                    Vector128.Store(Vector128.Load(src), d);
                    *(long*)(d + 4) = *(long*)(src + 4);
                    continue;
                }
                int r = 0;
                for (; r < rows; r++) d[r] = src[r];
                for (; r < MR; r++) d[r] = 0f;
            }
        }
    }

    /// <summary>op(B)[k0.., j0..] as nr-column micro-panels, each [kc, nr] (k-major), columns past nc zero. B is [K, N] with leading dim ldb.</summary>
    static void PackBPanels(float* b, int ldb, int k0, int kc, int j0, int nc, int nr, float* dst)
    {
        for (int jr = 0; jr < nc; jr += nr, dst += nr * kc)
        {
            int cols = Math.Min(nr, nc - jr);
            for (int k = 0; k < kc; k++)
            {
                float* src = b + (long)(k0 + k) * ldb + j0 + jr, d = dst + k * nr;
                if (cols == nr && Vector.IsHardwareAccelerated && nr % Vector<float>.Count == 0)
                {
                    // nr is a whole number of vectors: a few register copies beat a memmove call per 32 floats.
                    for (int j = 0; j < nr; j += Vector<float>.Count) Vector.Store(Vector.Load(src + j), d + j);
                    continue;
                }
                new ReadOnlySpan<float>(src, cols).CopyTo(new Span<float>(d, nr));
                if (cols < nr) new Span<float>(d + cols, nr - cols).Clear();
            }
        }
    }

    /// <summary>As <see cref="PackBPanels"/> when B is stored transposed, [N, K] with leading dim ldb.</summary>
    static void PackBTransposedPanels(float* b, int ldb, int k0, int kc, int j0, int nc, int nr, float* dst)
    {
        for (int jr = 0; jr < nc; jr += nr, dst += nr * kc)
        {
            int cols = Math.Min(nr, nc - jr);
            int k8 = cols == nr && Avx.IsSupported ? kc / 8 * 8 : 0;
            for (int j = 0; j < nr; j += 8)
                for (int k = 0; k < k8; k += 8)
                    Transpose8x8(b + (long)(j0 + jr + j) * ldb + k0 + k, ldb, dst + k * nr + j, nr);
            for (int j = 0; j < nr; j++)
            {
                float* src = b + (long)(j0 + jr + j) * ldb + k0;
                if (j < cols) for (int k = k8; k < kc; k++) dst[k * nr + j] = src[k];
                else for (int k = 0; k < kc; k++) dst[k * nr + j] = 0f;
            }
        }
    }

    /// <summary>
    /// dst[k * 6 + r] = src[r * lds + k] for 6 rows and 8 columns (a whole A tile's next 8 k), with
    /// <see cref="Transpose8x8"/>'s network over the 6 rows and two zero rows: each column is stored as 8 floats,
    /// the last two of which the next column's store overwrites (and past the tile, the next tile's or the
    /// buffer's slack: <see cref="PackBuffers"/> keeps 8 floats beyond what is asked).
    /// </summary>
    static void Transpose6x8(float* src, int lds, float* dst)
    {
        var r0 = Avx.LoadVector256(src); var r1 = Avx.LoadVector256(src + lds);
        var r2 = Avx.LoadVector256(src + 2L * lds); var r3 = Avx.LoadVector256(src + 3L * lds);
        var r4 = Avx.LoadVector256(src + 4L * lds); var r5 = Avx.LoadVector256(src + 5L * lds);
        var zero = Vector256<float>.Zero;
        Vector256<float> t0 = Avx.UnpackLow(r0, r1), t1 = Avx.UnpackHigh(r0, r1), t2 = Avx.UnpackLow(r2, r3), t3 = Avx.UnpackHigh(r2, r3);
        Vector256<float> t4 = Avx.UnpackLow(r4, r5), t5 = Avx.UnpackHigh(r4, r5);
        Vector256<float> u0 = Avx.Shuffle(t0, t2, 0x44), u1 = Avx.Shuffle(t0, t2, 0xEE), u2 = Avx.Shuffle(t1, t3, 0x44), u3 = Avx.Shuffle(t1, t3, 0xEE);
        Vector256<float> u4 = Avx.Shuffle(t4, zero, 0x44), u5 = Avx.Shuffle(t4, zero, 0xEE), u6 = Avx.Shuffle(t5, zero, 0x44), u7 = Avx.Shuffle(t5, zero, 0xEE);
        Avx.Store(dst, Avx.Permute2x128(u0, u4, 0x20)); Avx.Store(dst + 6, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(dst + 12, Avx.Permute2x128(u2, u6, 0x20)); Avx.Store(dst + 18, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(dst + 24, Avx.Permute2x128(u0, u4, 0x31)); Avx.Store(dst + 30, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(dst + 36, Avx.Permute2x128(u2, u6, 0x31)); Avx.Store(dst + 42, Avx.Permute2x128(u3, u7, 0x31));
    }

    /// <summary>
    /// dst[k * ldd + j] = src[j * lds + k] for an 8 x 8 block (AVX's unpack, shuffle, permute transpose): eight
    /// row loads and eight stores instead of 64 scalar moves with strided stores.
    /// </summary>
    static void Transpose8x8(float* src, int lds, float* dst, int ldd)
    {
        var r0 = Avx.LoadVector256(src); var r1 = Avx.LoadVector256(src + lds);
        var r2 = Avx.LoadVector256(src + 2L * lds); var r3 = Avx.LoadVector256(src + 3L * lds);
        var r4 = Avx.LoadVector256(src + 4L * lds); var r5 = Avx.LoadVector256(src + 5L * lds);
        var r6 = Avx.LoadVector256(src + 6L * lds); var r7 = Avx.LoadVector256(src + 7L * lds);
        Vector256<float> t0 = Avx.UnpackLow(r0, r1), t1 = Avx.UnpackHigh(r0, r1), t2 = Avx.UnpackLow(r2, r3), t3 = Avx.UnpackHigh(r2, r3);
        Vector256<float> t4 = Avx.UnpackLow(r4, r5), t5 = Avx.UnpackHigh(r4, r5), t6 = Avx.UnpackLow(r6, r7), t7 = Avx.UnpackHigh(r6, r7);
        Vector256<float> u0 = Avx.Shuffle(t0, t2, 0x44), u1 = Avx.Shuffle(t0, t2, 0xEE), u2 = Avx.Shuffle(t1, t3, 0x44), u3 = Avx.Shuffle(t1, t3, 0xEE);
        Vector256<float> u4 = Avx.Shuffle(t4, t6, 0x44), u5 = Avx.Shuffle(t4, t6, 0xEE), u6 = Avx.Shuffle(t5, t7, 0x44), u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(dst, Avx.Permute2x128(u0, u4, 0x20)); Avx.Store(dst + ldd, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(dst + 2L * ldd, Avx.Permute2x128(u2, u6, 0x20)); Avx.Store(dst + 3L * ldd, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(dst + 4L * ldd, Avx.Permute2x128(u0, u4, 0x31)); Avx.Store(dst + 5L * ldd, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(dst + 6L * ldd, Avx.Permute2x128(u2, u6, 0x31)); Avx.Store(dst + 7L * ldd, Avx.Permute2x128(u3, u7, 0x31));
    }

    /// <summary>
    /// C tile [6, 32] = alpha * (A tile [6, kc], see <see cref="APanel"/>, x B panel [kc, 32], rows ldb apart) + beta * C tile, with 12
    /// Vector512 accumulators; C is not read when beta is 0. Must equal <see cref="StoreEdge"/> over the same sums.
    /// </summary>
    static void Kernel6x32Avx512(int kc, APanel a, float* b, int ldb, float* c, int ldc, float alpha, float beta)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        float* a0 = a.Tile, a1 = a0 + a.Row, a2 = a1 + a.Row, a3 = a2 + a.Row, a4 = a3 + a.Row, a5 = a4 + a.Row;
        nint step = a.Step, at = 0;
        for (int k = 0; k < kc; k++, at += step, b += ldb)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            var x = Vector512.Create(a0[at]);
            c00 = Vector512.FusedMultiplyAdd(x, b0, c00); c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
            x = Vector512.Create(a1[at]);
            c10 = Vector512.FusedMultiplyAdd(x, b0, c10); c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
            x = Vector512.Create(a2[at]);
            c20 = Vector512.FusedMultiplyAdd(x, b0, c20); c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
            x = Vector512.Create(a3[at]);
            c30 = Vector512.FusedMultiplyAdd(x, b0, c30); c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
            x = Vector512.Create(a4[at]);
            c40 = Vector512.FusedMultiplyAdd(x, b0, c40); c41 = Vector512.FusedMultiplyAdd(x, b1, c41);
            x = Vector512.Create(a5[at]);
            c50 = Vector512.FusedMultiplyAdd(x, b0, c50); c51 = Vector512.FusedMultiplyAdd(x, b1, c51);
        }
        Update(c, c00, alpha, beta); Update(c + 16, c01, alpha, beta); c += ldc;
        Update(c, c10, alpha, beta); Update(c + 16, c11, alpha, beta); c += ldc;
        Update(c, c20, alpha, beta); Update(c + 16, c21, alpha, beta); c += ldc;
        Update(c, c30, alpha, beta); Update(c + 16, c31, alpha, beta); c += ldc;
        Update(c, c40, alpha, beta); Update(c + 16, c41, alpha, beta); c += ldc;
        Update(c, c50, alpha, beta); Update(c + 16, c51, alpha, beta);
    }

    /// <summary>As <see cref="Kernel6x32Avx512"/> for a [6, 16] tile with Vector256 (AVX2: 16 registers).</summary>
    static void Kernel6x16Avx2(int kc, APanel a, float* b, int ldb, float* c, int ldc, float alpha, float beta)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        float* a0 = a.Tile, a1 = a0 + a.Row, a2 = a1 + a.Row, a3 = a2 + a.Row, a4 = a3 + a.Row, a5 = a4 + a.Row;
        nint step = a.Step, at = 0;
        for (int k = 0; k < kc; k++, at += step, b += ldb)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + 8);
            var x = Vector256.Create(a0[at]);
            c00 = Vector256.FusedMultiplyAdd(x, b0, c00); c01 = Vector256.FusedMultiplyAdd(x, b1, c01);
            x = Vector256.Create(a1[at]);
            c10 = Vector256.FusedMultiplyAdd(x, b0, c10); c11 = Vector256.FusedMultiplyAdd(x, b1, c11);
            x = Vector256.Create(a2[at]);
            c20 = Vector256.FusedMultiplyAdd(x, b0, c20); c21 = Vector256.FusedMultiplyAdd(x, b1, c21);
            x = Vector256.Create(a3[at]);
            c30 = Vector256.FusedMultiplyAdd(x, b0, c30); c31 = Vector256.FusedMultiplyAdd(x, b1, c31);
            x = Vector256.Create(a4[at]);
            c40 = Vector256.FusedMultiplyAdd(x, b0, c40); c41 = Vector256.FusedMultiplyAdd(x, b1, c41);
            x = Vector256.Create(a5[at]);
            c50 = Vector256.FusedMultiplyAdd(x, b0, c50); c51 = Vector256.FusedMultiplyAdd(x, b1, c51);
        }
        Update(c, c00, alpha, beta); Update(c + 8, c01, alpha, beta); c += ldc;
        Update(c, c10, alpha, beta); Update(c + 8, c11, alpha, beta); c += ldc;
        Update(c, c20, alpha, beta); Update(c + 8, c21, alpha, beta); c += ldc;
        Update(c, c30, alpha, beta); Update(c + 8, c31, alpha, beta); c += ldc;
        Update(c, c40, alpha, beta); Update(c + 8, c41, alpha, beta); c += ldc;
        Update(c, c50, alpha, beta); Update(c + 8, c51, alpha, beta);
    }

    /// <summary>As <see cref="Kernel6x32Avx512"/> for a [6, 8] tile with Vector128 (SSE, NEON).</summary>
    static void Kernel6x8Vector128(int kc, APanel a, float* b, int ldb, float* c, int ldc, float alpha, float beta)
    {
        Vector128<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector128<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        float* a0 = a.Tile, a1 = a0 + a.Row, a2 = a1 + a.Row, a3 = a2 + a.Row, a4 = a3 + a.Row, a5 = a4 + a.Row;
        nint step = a.Step, at = 0;
        for (int k = 0; k < kc; k++, at += step, b += ldb)
        {
            var b0 = Vector128.Load(b);
            var b1 = Vector128.Load(b + 4);
            var x = Vector128.Create(a0[at]);
            c00 = Vector128.FusedMultiplyAdd(x, b0, c00); c01 = Vector128.FusedMultiplyAdd(x, b1, c01);
            x = Vector128.Create(a1[at]);
            c10 = Vector128.FusedMultiplyAdd(x, b0, c10); c11 = Vector128.FusedMultiplyAdd(x, b1, c11);
            x = Vector128.Create(a2[at]);
            c20 = Vector128.FusedMultiplyAdd(x, b0, c20); c21 = Vector128.FusedMultiplyAdd(x, b1, c21);
            x = Vector128.Create(a3[at]);
            c30 = Vector128.FusedMultiplyAdd(x, b0, c30); c31 = Vector128.FusedMultiplyAdd(x, b1, c31);
            x = Vector128.Create(a4[at]);
            c40 = Vector128.FusedMultiplyAdd(x, b0, c40); c41 = Vector128.FusedMultiplyAdd(x, b1, c41);
            x = Vector128.Create(a5[at]);
            c50 = Vector128.FusedMultiplyAdd(x, b0, c50); c51 = Vector128.FusedMultiplyAdd(x, b1, c51);
        }
        Update(c, c00, alpha, beta); Update(c + 4, c01, alpha, beta); c += ldc;
        Update(c, c10, alpha, beta); Update(c + 4, c11, alpha, beta); c += ldc;
        Update(c, c20, alpha, beta); Update(c + 4, c21, alpha, beta); c += ldc;
        Update(c, c30, alpha, beta); Update(c + 4, c31, alpha, beta); c += ldc;
        Update(c, c40, alpha, beta); Update(c + 4, c41, alpha, beta); c += ldc;
        Update(c, c50, alpha, beta); Update(c + 4, c51, alpha, beta);
    }

    /// <summary>
    /// The sums of a tile of at most MR / 2 rows (the bias gradients' single row: ones x dZ), into sums [rows, nr]:
    /// per element the micro-kernel's own operations, acc = fma(a[r, k], b[k, j], acc) for k ascending from 0, so
    /// the same bits, without the 6-row kernel's multiply-adds for rows that are not there.
    /// </summary>
    static void FewRows(int rows, int kc, APanel a, float* b, int ldb, float* sums, int nr)
    {
        for (int r = 0; r < rows; r++)
        {
            float* row = a.Tile + r * a.Row;
            for (int j = 0; j < nr; j += 8)
            {
                var acc = Vector256<float>.Zero;
                nint at = 0;
                for (int k = 0; k < kc; k++, at += a.Step)
                    acc = Vector256.FusedMultiplyAdd(Vector256.Create(row[at]), Vector256.Load(b + (long)k * ldb + j), acc);
                acc.Store(sums + r * nr + j);
            }
        }
    }

    // dst = alpha * sum + beta * dst, rounded as fma(beta, dst, alpha * sum) in every path.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Update(float* dst, Vector512<float> sum, float alpha, float beta)
    {
        var v = sum * alpha;
        if (beta != 0f) v = Vector512.FusedMultiplyAdd(Vector512.Create(beta), Vector512.Load(dst), v);
        v.Store(dst);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Update(float* dst, Vector256<float> sum, float alpha, float beta)
    {
        var v = sum * alpha;
        if (beta != 0f) v = Vector256.FusedMultiplyAdd(Vector256.Create(beta), Vector256.Load(dst), v);
        v.Store(dst);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Update(float* dst, Vector128<float> sum, float alpha, float beta)
    {
        var v = sum * alpha;
        if (beta != 0f) v = Vector128.FusedMultiplyAdd(Vector128.Create(beta), Vector128.Load(dst), v);
        v.Store(dst);
    }

    /// <summary>The part of a scratch tile of sums [MR, ld] that lies inside C, combined as <see cref="Update(float*, Vector512{float}, float, float)"/> does.</summary>
    static void StoreEdge(float* sums, int ld, float* c, int ldc, int rows, int cols, float alpha, float beta)
    {
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < cols; j++)
            {
                float v = sums[r * ld + j] * alpha;
                c[(long)r * ldc + j] = beta != 0f ? MathF.FusedMultiplyAdd(beta, c[(long)r * ldc + j], v) : v;
            }
    }

    /// <summary>C = beta C (alpha times an empty sum), for K = 0.</summary>
    static void ScaleC(float* c, int ldc, int rowStart, int rowEnd, int colStart, int colEnd, float beta)
    {
        for (int i = rowStart; i < rowEnd; i++)
        {
            var row = new Span<float>(c + (long)i * ldc + colStart, colEnd - colStart);
            if (beta == 0f) row.Clear();
            else foreach (ref float x in row) x *= beta;
        }
    }

    public void Dispose() { }

    static int CeilDiv(int a, int b) => (a + b - 1) / b;
    static int RoundUp(int a, int b) => CeilDiv(a, b) * b;

    /// <summary>
    /// One thread's packing buffers, 64-byte aligned so micro-panel loads never split a cache line. Per
    /// thread, so two streams' host work (or two workers) never share one.
    /// </summary>
    sealed class PackBuffers
    {
        [ThreadStatic] static PackBuffers? current;
        float[] a = [], b = [];
        public float* A { get; private set; }
        public float* B { get; private set; }

        public static PackBuffers ForThread(int aFloats, int bFloats)
        {
            var buffers = current ??= new PackBuffers();
            if (buffers.a.Length < aFloats + 24) buffers.A = Aligned(aFloats, out buffers.a);
            if (buffers.b.Length < bFloats + 24) buffers.B = Aligned(bFloats, out buffers.b);
            return buffers;
        }

        // Pinned arrays never move, so the aligned pointer stays valid for the array's lifetime.
        static float* Aligned(int floats, out float[] array)
        {
            array = GC.AllocateUninitializedArray<float>(floats + 24, pinned: true);
            nint address = (nint)Unsafe.AsPointer(ref array[0]);
            return (float*)((address + 63) & ~(nint)63);
        }
    }
}

/// <summary>Where the B of a GEMM comes from: B itself (packed per call as needed), or a <see cref="HostGemm.PackB"/> copy PackedWidth floats wide.</summary>
readonly unsafe struct BSource(float* data, int packedWidth = 0)
{
    public readonly float* Data = data;
    public readonly int PackedWidth = packedWidth;
    public bool IsPacked => PackedWidth > 0;
}

/// <summary>One call a <see cref="HostGemm.Record"/>ing saw: a multiply, a pack of B (Params' K, N, TransB, Ldb), or a multiply with a packed B.</summary>
public readonly record struct HostGemmCall(HostGemmCallKind Kind, GemmParams Params);

public enum HostGemmCallKind { Run, Pack, RunPackedB }

/// <summary>
/// Where a micro-kernel reads its MR rows of op(A): element (r, k) at Tile[k * Step + r * Row]. Row-major A in
/// place (Step 1, Row lda), transposed A in place (Step lda, Row 1), or a packed edge tile (Step MR, Row 1).
/// </summary>
readonly unsafe struct APanel(float* tile, nint step, nint row)
{
    public readonly float* Tile = tile;
    public readonly nint Step = step, Row = row;
}

/// <summary>The host GEMM's micro-kernel, by the SIMD width it uses.</summary>
public enum HostGemmKernel { Avx512, Avx2, Vector128 }
