using System.CommandLine;
using IlgpuElmo.Data;
using IlgpuElmo.Training;

namespace IlgpuElmo.Cli.Commands;

/// <summary>`elmo vocab --train GLOB --out vocab.txt [--min-count N]`: a frequency-sorted vocabulary, specials first.</summary>
static class VocabCommand
{
    public static Command Create()
    {
        var train = new Option<string>("--train") { Description = "Corpus files: a file, folder or pattern ('data/*.txt'); commas join several", Required = true };
        var output = new Option<string>("--out") { Description = "Where to write the vocabulary (one word per line; an existing file only with --overwrite)", Required = true };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace --out if it exists" };
        var minCount = new Option<int>("--min-count") { Description = "Keep words seen at least this often", DefaultValueFactory = _ => 1 };
        var maxSize = new Option<int?>("--max-size") { Description = "Keep at most this many words (specials included)" };
        var command = new Command("vocab", "Build a frequency-sorted vocabulary (<S>, </S>, <UNK> first) from a corpus");
        command.Options.Add(train);
        command.Options.Add(output);
        command.Options.Add(overwrite);
        command.Options.Add(minCount);
        command.Options.Add(maxSize);
        command.SetAction(result =>
        {
            OptionChecks.AtLeast(result.GetValue(maxSize), 3, "--max-size");
            var files = CorpusFiles.Expand(result.GetValue(train)!, "--train");
            OutputPaths.CheckFile(result.GetValue(output)!, "--out", "vocab.txt", result.GetValue(overwrite), files.Select(f => new OutputPaths.Input("--train", f)));
            var reader = new SentenceReader();
            var (vocab, stats) = Vocabulary.Build(files, result.GetValue(minCount), reader, result.GetValue(maxSize));
            if (reader.Warning is { } warning) Console.Error.WriteLine(warning);
            vocab.Save(result.GetValue(output)!);
            Console.WriteLine($"{vocab.Count} words (of {stats.DistinctWords} distinct) from {stats.Tokens} tokens in {stats.Sentences} sentences, {files.Count} file(s) -> {result.GetValue(output)}");
            return 0;
        });
        return command;
    }
}
