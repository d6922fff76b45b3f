using System.CommandLine;

namespace IlgpuElmo.Cli;

/// <summary>
/// `elmo train`'s options for starting from trained weights instead of random ones: `--init DIR` (a run
/// folder) or `--init-options F --init-weights F` (published weights), and `--freeze` for the token encoder.
/// </summary>
sealed class InitArguments
{
    public readonly Option<string?> RunFolder = new("--init") { Description = "Start from the weights of this run folder of `elmo train` (its options fix the architecture)" };
    public readonly Option<string?> Options = new("--init-options") { Description = "Start from published weights: their options.json (with --init-weights)" };
    public readonly Option<string?> Weights = new("--init-weights") { Description = "Start from published weights: weights.hdf5 in bilm-tf's layout (softmax.hdf5 and vocab.txt beside it are used when there)" };
    public readonly Option<bool> Freeze = new("--freeze") { Description = "Train only the LSTMs and the softmax; the token encoder (char CNN or embedding) keeps its initial weights" };

    /// <summary>The values given on a command line.</summary>
    public sealed record Values(string? RunFolder, string? Options, string? Weights, bool Freeze)
    {
        public bool Given => RunFolder is not null || Options is not null || Weights is not null || Freeze;
    }

    public void AddTo(Command command)
    {
        command.Options.Add(RunFolder);
        command.Options.Add(Options);
        command.Options.Add(Weights);
        command.Options.Add(Freeze);
    }

    public Values Parse(ParseResult result) =>
        new(result.GetValue(RunFolder), result.GetValue(Options), result.GetValue(Weights), result.GetValue(Freeze));
}
