using System.Runtime.InteropServices;

namespace IlgpuElmo.Distributed.Nccl;

/// <summary>
/// nccl.h's <c>ncclUniqueId</c>: 128 opaque bytes (NCCL_UNIQUE_ID_BYTES) that rank 0 creates and every rank
/// passes, by value, to ncclCommInitRank. Blittable, so it crosses the P/Invoke boundary as the C struct does
/// and travels between ranks as bytes (an MPI broadcast).
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = Bytes)]
public unsafe struct NcclUniqueId
{
    public const int Bytes = 128;
    fixed byte data[Bytes];

    public byte[] ToBytes()
    {
        var bytes = new byte[Bytes];
        fixed (byte* p = data) new ReadOnlySpan<byte>(p, Bytes).CopyTo(bytes);
        return bytes;
    }

    public static NcclUniqueId FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Bytes) throw new ArgumentException($"An NCCL unique id is {Bytes} bytes, got {bytes.Length}.");
        var id = new NcclUniqueId();
        bytes.CopyTo(new Span<byte>(id.data, Bytes));
        return id;
    }
}
