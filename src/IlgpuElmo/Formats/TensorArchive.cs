using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using IlgpuElmo.Data;

namespace IlgpuElmo.Formats;

/// <summary>
/// Our checkpoint file: named float32 tensors plus a JSON metadata document, sealed with a SHA-256 so a
/// truncated or damaged file is detected on load instead of silently resuming from garbage.
/// Layout: "ILGELMO1", int64 header length, UTF-8 JSON header {metadata, tensors: [{name, shape,
/// offset}]}, the tensors' little-endian float32 data, then the 32-byte SHA-256 of all preceding bytes
/// and "ILGEND01". Written through <see cref="AtomicFile"/>: the previous file stays until the new one
/// is complete.
/// </summary>
public static class TensorArchive
{
    static readonly byte[] Magic = "ILGELMO1"u8.ToArray();
    static readonly byte[] EndMagic = "ILGEND01"u8.ToArray();

    public static void Write(string path, JsonObject metadata, IEnumerable<(string Name, int[] Shape, float[] Data)> tensors)
    {
        var list = tensors.ToList();
        var directory = new JsonArray();
        long offset = 0;
        foreach (var (name, shape, data) in list)
        {
            long size = shape.Aggregate(1L, (a, b) => a * b);
            if (size != data.Length) throw new ArgumentException($"Tensor '{name}' has shape [{string.Join(", ", shape)}] but {data.Length} values.");
            directory.Add(new JsonObject { ["name"] = name, ["shape"] = new JsonArray(shape.Select(d => (JsonNode)d).ToArray()), ["offset"] = offset });
            offset += data.Length * 4L;
        }
        var header = new JsonObject { ["metadata"] = metadata.DeepClone(), ["tensors"] = directory };
        byte[] headerBytes = Encoding.UTF8.GetBytes(header.ToJsonString());
        AtomicFile.Write(path, stream =>
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            void Put(ReadOnlySpan<byte> bytes)
            {
                hash.AppendData(bytes);
                stream.Write(bytes);
            }
            Put(Magic);
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(length, headerBytes.Length);
            Put(length);
            Put(headerBytes);
            foreach (var (_, _, data) in list)
            {
                if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("Checkpoints are written little-endian.");
                Put(MemoryMarshal.AsBytes(data.AsSpan()));
            }
            stream.Write(hash.GetHashAndReset());
            stream.Write(EndMagic);
        });
    }

    /// <summary>Reads and verifies a checkpoint; a truncated or altered file is an InputException naming it.</summary>
    public static (JsonObject Metadata, Dictionary<string, (int[] Shape, float[] Data)> Tensors) Read(string path)
    {
        if (!File.Exists(path)) throw new InputException($"Checkpoint '{path}' does not exist.");
        return Parse(path, File.ReadAllBytes(path));
    }

    /// <summary>Verifies and reads a checkpoint's <paramref name="bytes"/>, read from <paramref name="path"/>.</summary>
    public static (JsonObject Metadata, Dictionary<string, (int[] Shape, float[] Data)> Tensors) Parse(string path, byte[] bytes)
    {
        string damaged = $"Checkpoint '{path}' is truncated or damaged";
        int minimum = Magic.Length + 8 + 32 + EndMagic.Length;
        if (bytes.Length < minimum || !bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic))
            throw new InputException($"{damaged}: it does not start like an IlgpuElmo checkpoint ({bytes.Length} bytes).");
        if (!bytes.AsSpan(bytes.Length - EndMagic.Length).SequenceEqual(EndMagic))
            throw new InputException($"{damaged}: its end marker is missing ({bytes.Length} bytes; the write was cut off).");
        int body = bytes.Length - 32 - EndMagic.Length;
        var expectedHash = SHA256.HashData(bytes.AsSpan(0, body));
        if (!expectedHash.AsSpan().SequenceEqual(bytes.AsSpan(body, 32)))
            throw new InputException($"{damaged}: its checksum does not match.");
        long headerLength = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(Magic.Length, 8));
        int dataStart = checked(Magic.Length + 8 + (int)headerLength);
        var header = JsonNode.Parse(bytes.AsSpan(Magic.Length + 8, (int)headerLength))!.AsObject();
        var tensors = new Dictionary<string, (int[], float[])>(StringComparer.Ordinal);
        foreach (var entry in header["tensors"]!.AsArray())
        {
            string name = entry!["name"]!.GetValue<string>();
            int[] shape = entry["shape"]!.AsArray().Select(x => x!.GetValue<int>()).ToArray();
            long offset = entry["offset"]!.GetValue<long>();
            long count = shape.Aggregate(1L, (a, b) => a * b);
            if (dataStart + offset + count * 4 > body)
                throw new InputException($"{damaged}: tensor '{name}' runs past the data.");
            var data = new float[count];
            MemoryMarshal.Cast<byte, float>(bytes.AsSpan((int)(dataStart + offset), (int)(count * 4))).CopyTo(data);
            tensors[name] = (shape, data);
        }
        return (header["metadata"]!.AsObject(), tensors);
    }
}
