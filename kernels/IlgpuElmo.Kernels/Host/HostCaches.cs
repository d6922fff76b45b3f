namespace IlgpuElmo.Kernels;

/// <summary>
/// The data cache sizes of one core, in bytes, as the host GEMM's blocking needs them: L1 data and L2 per
/// core, and the L3 the core shares. <see cref="Machine"/> reads them from Linux's sysfs
/// (<c>/sys/devices/system/cpu/cpu0/cache/index*/</c>); where that is missing (other systems, containers
/// that hide it), <see cref="Fallback"/>: the smallest caches of the x64 CPUs with AVX2 (32 KB L1d,
/// 512 KB L2 as on Zen 2/3, 8 MB L3), so the blocks fit in any of them.
/// </summary>
public readonly record struct HostCaches(int L1Data, int L2, int L3)
{
    public static readonly HostCaches Fallback = new(32 << 10, 512 << 10, 8 << 20);

    /// <summary>AMD Zen 3 (EPYC 7003, Ryzen 5000): 32 KB L1d and 512 KB L2 per core, 32 MB L3 per CCX.</summary>
    public static readonly HostCaches Zen3 = new(32 << 10, 512 << 10, 32 << 20);

    /// <summary>AMD Zen 4 (EPYC 9004): 32 KB L1d and 1 MB L2 per core, 32 MB L3 per CCD.</summary>
    public static readonly HostCaches Zen4 = new(32 << 10, 1 << 20, 32 << 20);

    /// <summary>AMD Zen 5 (EPYC 9005): 48 KB L1d and 1 MB L2 per core, 32 MB L3 per CCD.</summary>
    public static readonly HostCaches Zen5 = new(48 << 10, 1 << 20, 32 << 20);

    static readonly Lazy<HostCaches> machine = new(() => Read("/sys/devices/system/cpu/cpu0/cache") ?? Fallback);

    /// <summary>This machine's caches (read once), or <see cref="Fallback"/> where they cannot be read.</summary>
    public static HostCaches Machine => machine.Value;

    /// <summary>
    /// The caches described under <paramref name="folder"/> (sysfs layout: one index* folder per cache with
    /// level, type and size such as "32K"); null when a level is missing or unreadable. A machine without
    /// an L3 gets its L2 as L3.
    /// </summary>
    public static HostCaches? Read(string folder)
    {
        int l1 = 0, l2 = 0, l3 = 0;
        try
        {
            if (!Directory.Exists(folder)) return null;
            foreach (var index in Directory.EnumerateDirectories(folder, "index*"))
            {
                string type = File.ReadAllText(Path.Combine(index, "type")).Trim();
                if (type == "Instruction") continue;
                int level = int.Parse(File.ReadAllText(Path.Combine(index, "level")).Trim());
                int size = ParseSize(File.ReadAllText(Path.Combine(index, "size")).Trim());
                if (level == 1 && type == "Data") l1 = size;
                else if (level == 2) l2 = size;
                else if (level == 3) l3 = size;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or OverflowException)
        {
            return null;
        }
        if (l1 <= 0 || l2 <= 0) return null;
        return new HostCaches(l1, l2, l3 > 0 ? l3 : l2);
    }

    /// <summary>sysfs sizes: "32K", "1024K", "32M", or plain bytes.</summary>
    static int ParseSize(string text)
    {
        int scale = text[^1] switch { 'K' => 1 << 10, 'M' => 1 << 20, 'G' => 1 << 30, _ => 1 };
        string digits = scale == 1 ? text : text[..^1];
        return checked(int.Parse(digits, System.Globalization.CultureInfo.InvariantCulture) * scale);
    }

    public override string ToString() => $"L1d {L1Data >> 10} KB, L2 {L2 >> 10} KB, L3 {L3 >> 20} MB";
}
