namespace IlgpuElmo.Training;

/// <summary>Global-norm clipping as tf.clip_by_global_norm: scale every gradient by clip / max(norm, clip).</summary>
public static class GradientClipping
{
    public static float Scale(double globalNorm, double clipNorm)
    {
        if (double.IsNaN(globalNorm) || double.IsInfinity(globalNorm)) return float.NaN;
        return clipNorm <= 0 || globalNorm <= clipNorm ? 1f : (float)(clipNorm / globalNorm);
    }
}
