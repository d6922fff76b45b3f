namespace IlgpuElmo.Tests.Reference;

/// <summary>Plain float64 GEMM with the same row-major, leading-dimension and batch-stride semantics as ours.</summary>
public static class ReferenceGemm
{
    public static double[] Compute(int m, int n, int k, double alpha, double beta, bool transA, bool transB,
        float[] a, int lda, long strideA, float[] b, int ldb, long strideB, float[] c, int ldc, long strideC, int batch)
    {
        var result = c.Select(x => (double)x).ToArray();
        for (int q = 0; q < batch; q++)
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double sum = 0;
                    for (int p = 0; p < k; p++)
                    {
                        double x = transA ? a[q * strideA + (long)p * lda + i] : a[q * strideA + (long)i * lda + p];
                        double y = transB ? b[q * strideB + (long)j * ldb + p] : b[q * strideB + (long)p * ldb + j];
                        sum += x * y;
                    }
                    long at = q * strideC + (long)i * ldc + j;
                    result[at] = alpha * sum + (beta == 0 ? 0 : beta * c[at]);
                }
        return result;
    }
}
