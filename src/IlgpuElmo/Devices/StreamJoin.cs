using System.Runtime.InteropServices;
using IlgpuElmo.Kernels;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace IlgpuElmo.Devices;

/// <summary>
/// Makes one stream wait for the work enqueued so far on another without stopping the host: on CUDA a
/// driver event recorded on the producer and waited on by the waiter (cuEventRecord, cuStreamWaitEvent,
/// which ILGPU 1.5.3 does not wrap). Off CUDA the device's two streams are one stream (or host execution
/// runs everything in order), so there is nothing to do; should libcuda's entry points not load, the
/// waiter falls back to a host wait on the producer.
/// </summary>
public sealed unsafe class StreamJoin : IDisposable
{
    const uint DisableTiming = 0x2;
    readonly ComputeDevice device;
    readonly nint cudaEvent;
    readonly delegate* unmanaged<nint, nint, int> eventRecord;
    readonly delegate* unmanaged<nint, nint, uint, int> streamWaitEvent;
    readonly delegate* unmanaged<nint, int> eventDestroy;

    public StreamJoin(ComputeDevice device)
    {
        this.device = device;
        if (device.Accelerator is not CudaAccelerator || ReferenceEquals(device.Stream, device.SecondStream)) return;
        string library = OperatingSystem.IsWindows() ? "nvcuda.dll" : "libcuda.so.1";
        if (!NativeLibrary.TryLoad(library, out nint cuda)
            || !NativeLibrary.TryGetExport(cuda, "cuEventCreate", out nint create)
            || !NativeLibrary.TryGetExport(cuda, "cuEventRecord", out nint record)
            || !NativeLibrary.TryGetExport(cuda, "cuStreamWaitEvent", out nint wait)
            || !NativeLibrary.TryGetExport(cuda, "cuEventDestroy_v2", out nint destroy))
            return;
        device.Accelerator.Bind();
        nint created;
        if (((delegate* unmanaged<nint*, uint, int>)create)(&created, DisableTiming) != 0) return;
        cudaEvent = created;
        eventRecord = (delegate* unmanaged<nint, nint, int>)record;
        streamWaitEvent = (delegate* unmanaged<nint, nint, uint, int>)wait;
        eventDestroy = (delegate* unmanaged<nint, int>)destroy;
    }

    /// <summary>Work enqueued on <paramref name="waiter"/> from now on starts after all work enqueued so far on <paramref name="producer"/>.</summary>
    public void Wait(AcceleratorStream waiter, AcceleratorStream producer)
    {
        if (ReferenceEquals(waiter, producer) || device.RunsOnHost) return;
        if (cudaEvent == 0)
        {
            DeviceCounters.Wait(producer);
            return;
        }
        Check(eventRecord(cudaEvent, ((CudaStream)producer).StreamPtr), "cuEventRecord");
        Check(streamWaitEvent(((CudaStream)waiter).StreamPtr, cudaEvent, 0), "cuStreamWaitEvent");
    }

    static void Check(int status, string call)
    {
        if (status != 0) throw new InvalidOperationException($"{call} failed with CUDA error {status}.");
    }

    public void Dispose()
    {
        if (cudaEvent != 0) eventDestroy(cudaEvent);
    }
}
