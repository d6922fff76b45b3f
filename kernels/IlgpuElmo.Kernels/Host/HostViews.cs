using ILGPU;
using ILGPU.Runtime;

namespace IlgpuElmo.Kernels;

/// <summary>Host access to CPU-accelerator views, for host execution paths.</summary>
public static class HostViews
{
    /// <summary>The view's memory as a span; the view must live on ILGPU's CPU accelerator.</summary>
    public static unsafe Span<T> AsHostSpan<T>(this ArrayView<T> view) where T : unmanaged
    {
        if (view.Length == 0) return Span<T>.Empty;
        if (view.GetAccelerator().AcceleratorType != AcceleratorType.CPU)
            throw new InvalidOperationException("Host spans exist only for CPU-accelerator memory.");
        return new Span<T>((void*)view.LoadEffectiveAddressAsPtr(), checked((int)view.Length));
    }
}
