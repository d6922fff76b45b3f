namespace IlgpuElmo.Kernels;

/// <summary>
/// The host GEMM's block sizes (BLIS's names): an MR x NR tile of C per micro-kernel call, KC of the inner
/// dimension per packed block of op(B), MC rows of A per block, NC columns of op(B) per packed block.
/// </summary>
/// <remarks>
/// Where each block lives (the loop order of <see cref="HostGemm"/>): a B micro-panel, KC x NR, is reused
/// by every MR-row tile of an A block, so it must stay in L1 beside the tiles' A rows streaming past it;
/// the A block, MC x KC, is read once per B micro-panel, so it must stay in L2; the packed B block,
/// KC x NC, is read once per A block, so it should stay in L3.
///
/// KC also fixes where partial sums are added into C, so it fixes the rounding of every result: it is set
/// per micro-kernel, not per machine, and host results are bit-reproducible per ISA (not across ISAs, whose
/// NR and KC differ). It is chosen for the smallest L1d of the x64 CPUs that run the kernel (32 KB): the
/// largest power of two (so the model's K = 128 ... 4096 split into equal blocks) whose B micro-panel
/// (KC x NR floats) plus two A tiles (2 x MR x KC floats: the tile being read and the next) fill at most
/// <see cref="L1Share"/> of it. MC and NC change only which tiles run when, never a sum, so
/// they come from this machine's L2 and L3 (<see cref="HostCaches"/>): the A block fills at most half of
/// L2 and the packed B block at most a quarter of L3 (the L3 is shared with the other cores' blocks).
/// </remarks>
public readonly record struct HostGemmBlocking(int MR, int NR, int KC, int MC, int NC)
{
    /// <summary>Rows per micro-kernel tile: 6 rows x 2 vectors = 12 accumulators, BLIS's Haswell/Zen choice.</summary>
    public const int Rows = 6;

    /// <summary>The L1d size KC is chosen for: the smallest of the CPUs with AVX2 or AVX-512.</summary>
    public const int SmallestL1Data = 32 << 10;

    /// <summary>The part of L1d the B micro-panel and two A tiles may fill; the rest holds C's tile and the stack.</summary>
    public const double L1Share = 0.875;

    /// <summary>Largest NC: beyond it a packed B block outgrows any thread's buffer budget (8 MB).</summary>
    const int MaxColumns = 8192;

    /// <summary>Largest MC: 48 tiles of 6 rows (more only lengthens the edge handling of short matrices).</summary>
    const int MaxRows = 48 * Rows;

    /// <summary>The blocking for <paramref name="kernel"/> on a machine with <paramref name="caches"/>.</summary>
    public static HostGemmBlocking For(HostGemmKernel kernel, HostCaches caches)
    {
        int nr = ColumnsOf(kernel), kc = DepthOf(kernel);
        int mc = Math.Clamp(caches.L2 / 2 / (kc * sizeof(float)) / Rows * Rows, Rows, MaxRows);
        int nc = Math.Clamp(caches.L3 / 4 / (kc * sizeof(float)) / nr * nr, nr, MaxColumns);
        return new HostGemmBlocking(Rows, nr, kc, mc, nc);
    }

    /// <summary>NR: two vectors of the kernel's width.</summary>
    public static int ColumnsOf(HostGemmKernel kernel) => kernel switch
    {
        HostGemmKernel.Avx512 => 32,
        HostGemmKernel.Avx2 => 16,
        _ => 8,
    };

    /// <summary>
    /// KC: the largest power of two, at most 256, whose B micro-panel and two A tiles fit <see cref="L1Share"/>
    /// of <see cref="SmallestL1Data"/>: 128 for AVX-512 (NR 32: 22 KB; 256 would fill the whole 32 KB with
    /// the B micro-panel alone, and measured 10-25 % slower on Zen 4), 256 for AVX2 (NR 16: 28 KB) and 128-bit (NR 8).
    /// </summary>
    public static int DepthOf(HostGemmKernel kernel)
    {
        int floatsPerK = ColumnsOf(kernel) + 2 * Rows;
        int most = (int)(SmallestL1Data * L1Share / sizeof(float) / floatsPerK);
        int kc = 8;
        while (kc * 2 <= Math.Min(most, 256)) kc *= 2;
        return kc;
    }

    /// <summary>Bytes of L1d the micro-kernel's working set takes: a B micro-panel and two A tiles.</summary>
    public int L1Bytes => KC * (NR + 2 * MR) * sizeof(float);

    /// <summary>Bytes of an A block (MC x KC).</summary>
    public int L2Bytes => MC * KC * sizeof(float);

    /// <summary>Bytes of a packed B block (KC x NC).</summary>
    public long L3Bytes => (long)KC * NC * sizeof(float);

    public override string ToString() => $"MR {MR}, NR {NR}, KC {KC}, MC {MC}, NC {NC}";
}
