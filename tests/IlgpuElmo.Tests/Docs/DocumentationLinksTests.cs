using System.Text;
using System.Text.RegularExpressions;

namespace IlgpuElmo.Tests.Docs;

/// <summary>
/// Every relative link and image in the README, docs/ and the benchmarks' pages points to a file or folder
/// that exists, and every #fragment to a heading of its target page (GitHub's heading anchors), so moving
/// a page or renaming a section cannot leave a dead link behind. Links inside code are not links.
/// </summary>
public class DocumentationLinksTests
{
    static readonly Regex Link = new(@"!?\[[^\]]*\]\(([^)\s]+)(?:\s+""[^""]*"")?\)");
    static readonly Regex FencedCode = new(@"^```.*?^```", RegexOptions.Singleline | RegexOptions.Multiline);
    static readonly Regex InlineCode = new(@"`[^`]*`");
    static readonly Regex Heading = new(@"^#{1,6}\s+(.+?)\s*#*\s*$", RegexOptions.Multiline);

    [Fact]
    public void EveryRelativeLinkPointsToAnExistingFileAndHeading()
    {
        var pages = Pages().ToList();
        Assert.Contains(Path.Combine(Repository.Root, "README.md"), pages);
        Assert.Contains(Path.Combine(Repository.Root, "docs", "architecture.md"), pages);
        var broken = new List<string>();
        int checkedLinks = 0;
        foreach (string page in pages)
        {
            foreach (Match m in Link.Matches(Prose(File.ReadAllText(page))))
            {
                string target = m.Groups[1].Value;
                if (Regex.IsMatch(target, "^[a-z][a-z0-9+.-]*:", RegexOptions.IgnoreCase)) continue; // https:, mailto:
                checkedLinks++;
                int hash = target.IndexOf('#');
                string path = hash < 0 ? target : target[..hash];
                string? fragment = hash < 0 ? null : target[(hash + 1)..];
                string resolved = path.Length == 0 ? page : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(page)!, Uri.UnescapeDataString(path)));
                string where = $"{Path.GetRelativePath(Repository.Root, page)}: ({target})";
                if (!File.Exists(resolved) && !Directory.Exists(resolved))
                    broken.Add($"{where} -> no file {Path.GetRelativePath(Repository.Root, resolved)}");
                else if (fragment is not null && resolved.EndsWith(".md", StringComparison.OrdinalIgnoreCase)
                         && !Anchors(File.ReadAllText(resolved)).Contains(fragment))
                    broken.Add($"{where} -> no heading #{fragment} in {Path.GetRelativePath(Repository.Root, resolved)}");
            }
        }
        Assert.True(checkedLinks > 0, "No relative links were found: the page list or the link pattern is wrong.");
        Assert.True(broken.Count == 0, "Broken links:\n" + string.Join("\n", broken));
    }

    [Theory]
    [InlineData("## What the main job prints", "what-the-main-job-prints")]
    [InlineData("## With more time: `cpu-long`", "with-more-time-cpu-long")]
    [InlineData("## Reproducibility: bit for bit from the seed, on one instruction set", "reproducibility-bit-for-bit-from-the-seed-on-one-instruction-set")]
    [InlineData("### What `elmo export` writes, and what it guarantees", "what-elmo-export-writes-and-what-it-guarantees")]
    [InlineData("## Library API (.NET)", "library-api-net")]
    public void AnchorsAreGitHubs(string heading, string anchor) => Assert.Contains(anchor, Anchors(heading + "\n"));

    /// <summary>The Markdown pages whose links are checked: the README, docs/ and the benchmarks' pages (build output excluded).</summary>
    static IEnumerable<string> Pages()
    {
        yield return Path.Combine(Repository.Root, "README.md");
        foreach (string folder in new[] { "docs", "benchmarks" })
            foreach (string page in Directory.EnumerateFiles(Path.Combine(Repository.Root, folder), "*.md", SearchOption.AllDirectories).Order())
            {
                var parts = Path.GetRelativePath(Repository.Root, page).Split(Path.DirectorySeparatorChar);
                if (!parts.Contains("bin") && !parts.Contains("obj")) yield return page;
            }
    }

    /// <summary>The text outside fenced code blocks and inline code spans.</summary>
    static string Prose(string markdown) => InlineCode.Replace(FencedCode.Replace(markdown, ""), "");

    /// <summary>
    /// GitHub's anchors for a page's headings: lower case, characters other than letters, digits, '_', '-'
    /// and spaces dropped, spaces turned into '-'; a repeated anchor gets -1, -2, ...
    /// </summary>
    static HashSet<string> Anchors(string markdown)
    {
        var anchors = new HashSet<string>();
        foreach (Match m in Heading.Matches(FencedCode.Replace(markdown, "")))
        {
            var slug = new StringBuilder();
            foreach (char c in m.Groups[1].Value.ToLowerInvariant())
                if (char.IsLetterOrDigit(c) || c is '_' or '-') slug.Append(c);
                else if (c == ' ') slug.Append('-');
            string anchor = slug.ToString();
            for (int n = 1; !anchors.Add(anchor); n++) anchor = $"{slug}-{n}";
        }
        return anchors;
    }
}
