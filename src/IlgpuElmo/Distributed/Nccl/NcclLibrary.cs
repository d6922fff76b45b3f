using System.Runtime.InteropServices;

namespace IlgpuElmo.Distributed.Nccl;

/// <summary>nccl.h's ncclDataType_t values this project sends.</summary>
public enum NcclDataType { Int32 = 2, Float32 = 7, Float64 = 8 }

/// <summary>nccl.h's ncclRedOp_t values.</summary>
public enum NcclReduction { Sum = 0, Max = 2 }

/// <summary>
/// The system's NCCL (<c>libnccl.so.2</c>, installed with CUDA on GPU machines), loaded only when a run asks
/// for it: the entry points are resolved from the library handle into function pointers, so a machine
/// without NCCL never touches it and one that asks for it gets an error naming the library.
/// Signatures are nccl.h's (NCCL 2.x): every call returns an ncclResult_t, 0 on success.
/// </summary>
public sealed unsafe class NcclLibrary
{
    public const string DefaultName = "libnccl.so.2";

    NcclLibrary(nint handle, string name)
    {
        Name = name;
        GetUniqueId = (delegate* unmanaged<NcclUniqueId*, int>)Export(handle, name, "ncclGetUniqueId");
        CommInitRank = (delegate* unmanaged<nint*, int, NcclUniqueId, int, int>)Export(handle, name, "ncclCommInitRank");
        AllReduce = (delegate* unmanaged<nint, nint, nuint, int, int, nint, nint, int>)Export(handle, name, "ncclAllReduce");
        GroupStart = (delegate* unmanaged<int>)Export(handle, name, "ncclGroupStart");
        GroupEnd = (delegate* unmanaged<int>)Export(handle, name, "ncclGroupEnd");
        CommDestroy = (delegate* unmanaged<nint, int>)Export(handle, name, "ncclCommDestroy");
        GetErrorString = (delegate* unmanaged<int, byte*>)Export(handle, name, "ncclGetErrorString");
        GetVersion = (delegate* unmanaged<int*, int>)Export(handle, name, "ncclGetVersion");
    }

    public string Name { get; }

    /// <summary>ncclGetUniqueId(ncclUniqueId* uniqueId)</summary>
    public delegate* unmanaged<NcclUniqueId*, int> GetUniqueId { get; }

    /// <summary>ncclCommInitRank(ncclComm_t* comm, int nranks, ncclUniqueId commId, int rank)</summary>
    public delegate* unmanaged<nint*, int, NcclUniqueId, int, int> CommInitRank { get; }

    /// <summary>ncclAllReduce(const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t, ncclRedOp_t, ncclComm_t, cudaStream_t)</summary>
    public delegate* unmanaged<nint, nint, nuint, int, int, nint, nint, int> AllReduce { get; }

    public delegate* unmanaged<int> GroupStart { get; }
    public delegate* unmanaged<int> GroupEnd { get; }
    public delegate* unmanaged<nint, int> CommDestroy { get; }
    public delegate* unmanaged<int, byte*> GetErrorString { get; }
    public delegate* unmanaged<int*, int> GetVersion { get; }

    /// <summary>Loads <paramref name="name"/>; absent or incomplete, an <see cref="InputException"/> naming it.</summary>
    public static NcclLibrary Load(string name = DefaultName)
    {
        if (!NativeLibrary.TryLoad(name, out nint handle))
            throw new InputException(
                $"NCCL ('{name}') could not be loaded: it comes with CUDA's NCCL package (e.g. libnccl2) on GPU machines. " +
                "Install it, or train with --all-reduce mpi.");
        return new NcclLibrary(handle, name);
    }

    /// <summary>Throws naming the call and NCCL's own message unless <paramref name="result"/> is ncclSuccess.</summary>
    public void Check(int result, string call)
    {
        if (result == 0) return;
        string message = Marshal.PtrToStringUTF8((nint)GetErrorString(result)) ?? "unknown error";
        throw new InvalidOperationException($"{call} failed: NCCL error {result} ({message}).");
    }

    static nint Export(nint handle, string name, string symbol) =>
        NativeLibrary.TryGetExport(handle, symbol, out nint address)
            ? address
            : throw new InputException($"NCCL ('{name}') has no {symbol}: it is not NCCL 2.x. Install NCCL 2, or train with --all-reduce mpi.");
}
