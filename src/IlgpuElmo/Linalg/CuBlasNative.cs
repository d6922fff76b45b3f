using System.Runtime.InteropServices;

namespace IlgpuElmo.Linalg;

/// <summary>cuBLAS entry points ILGPU.Algorithms does not wrap; resolved by <see cref="CuBlasLibrary"/>.</summary>
static partial class CuBlasNative
{
    const string Library = "cublas";

    /// <summary>cublasSgemmStridedBatched (column-major, host pointer mode for alpha and beta).</summary>
    [LibraryImport(Library, EntryPoint = "cublasSgemmStridedBatched")]
    internal static partial int SgemmStridedBatched(
        nint handle, int transa, int transb, int m, int n, int k,
        in float alpha, nint a, int lda, long strideA,
        nint b, int ldb, long strideB,
        in float beta, nint c, int ldc, long strideC, int batchCount);
}
