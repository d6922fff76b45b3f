namespace IlgpuElmo.Model;

/// <summary>
/// The distinct tokens of a batch and, for every position, which of them it is. The token encoder
/// runs once per distinct token (a 2560-position window of text has far fewer distinct words), the
/// positions gather their vectors, and the backward scatter-adds the position gradients back.
/// </summary>
public sealed class TokenPositions
{
    public TokenPositions(IReadOnlyList<string> tokens)
    {
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        var unique = new List<string>();
        Map = new int[tokens.Count];
        for (int i = 0; i < tokens.Count; i++)
        {
            if (!index.TryGetValue(tokens[i], out int u))
            {
                u = unique.Count;
                index[tokens[i]] = u;
                unique.Add(tokens[i]);
            }
            Map[i] = u;
        }
        Unique = unique;
    }

    /// <summary>The distinct tokens, in order of first appearance.</summary>
    public IReadOnlyList<string> Unique { get; }

    /// <summary>Position i holds token Unique[Map[i]].</summary>
    public int[] Map { get; }
}
