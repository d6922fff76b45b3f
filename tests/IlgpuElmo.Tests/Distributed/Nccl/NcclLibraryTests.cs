using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using IlgpuElmo.Distributed.Nccl;

namespace IlgpuElmo.Tests.Distributed.Nccl;

/// <summary>What of the NCCL binding can be checked without a GPU or NCCL: the id's layout and marshalling, the enums, the errors.</summary>
public unsafe class NcclLibraryTests
{
    [Fact]
    public void TheUniqueIdIsNcclsOneHundredTwentyEightBytes()
    {
        Assert.Equal(128, sizeof(NcclUniqueId));
        Assert.Equal(128, Marshal.SizeOf<NcclUniqueId>());
        var bytes = Enumerable.Range(0, 128).Select(i => (byte)(i * 7 + 1)).ToArray();
        Assert.Equal(bytes, NcclUniqueId.FromBytes(bytes).ToBytes());
        Assert.Throws<ArgumentException>(() => NcclUniqueId.FromBytes(new byte[127]));
    }

    static byte[] received = [];

    [UnmanagedCallersOnly]
    static int FakeCommInitRank(nint* comm, int ranks, NcclUniqueId id, int rank)
    {
        received = id.ToBytes();
        *comm = ranks * 100 + rank;
        return 0;
    }

    [Fact]
    public void TheIdGoesByValueThroughCommInitRanksFunctionPointerType()
    {
        // The same function-pointer type NcclLibrary.CommInitRank has, called into a managed stand-in for NCCL.
        delegate* unmanaged<nint*, int, NcclUniqueId, int, int> init = &FakeCommInitRank;
        var bytes = Enumerable.Range(0, 128).Select(i => (byte)(255 - i)).ToArray();
        nint comm;
        Assert.Equal(0, init(&comm, 4, NcclUniqueId.FromBytes(bytes), 3));
        Assert.Equal(bytes, received);
        Assert.Equal(403, comm);
    }

    [Fact]
    public void EnumValuesAreNcclHs()
    {
        Assert.Equal(2, (int)NcclDataType.Int32);
        Assert.Equal(7, (int)NcclDataType.Float32);
        Assert.Equal(8, (int)NcclDataType.Float64);
        Assert.Equal(0, (int)NcclReduction.Sum);
        Assert.Equal(2, (int)NcclReduction.Max);
    }

    [Fact]
    public void AnAbsentLibraryIsNamed()
    {
        var e = Assert.Throws<InputException>(() => NcclLibrary.Load("libnccl-absent.so.2"));
        Assert.Contains("NCCL ('libnccl-absent.so.2') could not be loaded", e.Message);
        Assert.Contains("--all-reduce mpi", e.Message);
    }

    [Fact]
    public void ALibraryWithoutNcclsEntryPointsIsNamed()
    {
        var e = Assert.Throws<InputException>(() => NcclLibrary.Load("libc.so.6"));
        Assert.Contains("has no ncclGetUniqueId", e.Message);
    }
}
