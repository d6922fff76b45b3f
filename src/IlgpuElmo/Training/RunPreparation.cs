using IlgpuElmo.Data;
using IlgpuElmo.Devices;
using IlgpuElmo.Distributed;
using IlgpuElmo.Model;

namespace IlgpuElmo.Training;

/// <summary>A run's folder (held under its lock), plan, options and vocabulary, ready to train.</summary>
/// <remarks>Lock is null on the ranks other than 0 of a data-parallel run, which read the run but never write it.</remarks>
sealed record PreparedRun(string Folder, RunFolderLock? Lock, RunSettings Settings, BilmOptions Options, Vocabulary Vocabulary);

/// <summary>
/// What `elmo train` decides before the first step: the corpus, options and vocabulary of a new run and
/// its step target, checked before a folder is created or claimed, then written into the claimed folder;
/// or, for a resume, the plan, options and vocabulary the run recorded. In a data-parallel run rank 0
/// claims and writes the folder and the other ranks then read the same plan without claiming it.
/// </summary>
static class RunPreparation
{
    /// <summary>
    /// Prepares on every rank (or on this process alone when <paramref name="world"/> is null). A rank that
    /// fails stops every rank with a <see cref="RanksStoppedTogetherException"/> carrying its own message.
    /// </summary>
    public static PreparedRun Prepare(Func<PreparedRun> onRoot, Func<string, PreparedRun> readOnOtherRanks, MpiWorld? world)
    {
        if (world is null) return onRoot();
        PreparedRun? prepared = null;
        Exception? failure = null;
        try
        {
            if (world.IsRoot) prepared = onRoot();
        }
        catch (Exception e)
        {
            failure = e;
        }
        if (!world.AllSucceeded(failure is null))
        {
            if (failure is not null) throw new RanksStoppedTogetherException(failure.Message, failure);
            throw new RanksStoppedTogetherException("--distributed: rank 0 could not prepare the run (its error is above); nothing was trained.");
        }
        string runDir = world.Broadcast(prepared?.Folder);
        return world.IsRoot ? prepared! : readOnOtherRanks(runDir);
    }

    /// <summary>Steps in one pass over <paramref name="targets"/> targets per direction.</summary>
    public static long StepsPerEpoch(long targets, BilmOptions options)
    {
        long perStep = (long)options.BatchSize * options.UnrollSteps;
        return Math.Max(1, (targets + perStep - 1) / perStep);
    }

    /// <summary>The total that <paramref name="steps"/> or <paramref name="epochs"/> ask for, or null when neither is given.</summary>
    static long? RequestedSteps(long? steps, double? epochs, long targets, BilmOptions options) =>
        steps ?? (epochs is double e ? (long)Math.Ceiling(e * StepsPerEpoch(targets, options)) : null);

    /// <summary>Reads the run recorded in <paramref name="request"/>'s folder; with <paramref name="claim"/>, locks the folder first.</summary>
    public static PreparedRun Resume(ResumeRequest request, TextWriter log, bool claim)
    {
        string runDir = request.Folder;
        var held = claim ? RunFolder.ClaimForResume(runDir) : null;
        try
        {
            var settings = RunSettings.Read(runDir);
            var (options, warnings) = BilmOptions.Load(Path.Combine(runDir, "options.json"));
            foreach (var w in warnings) log.WriteLine($"warning: {w}");
            if (request.Options is { } given && BilmOptions.Load(given).Options.ToJson() != options.ToJson())
                throw new InputException($"--options {given} differs from the options the run in {runDir} was started with; resume without --options.");
            var vocabulary = Vocabulary.Load(Path.Combine(runDir, "vocab.txt"));
            if (request.Vocabulary is { } v && !Vocabulary.Load(v).Words.SequenceEqual(vocabulary.Words))
                throw new InputException($"--vocab {v} differs from the vocabulary the run in {runDir} was started with; resume without --vocab.");
            if (request.Epochs is not null && request.Steps is null && options.NTrainTokens is null)
                throw new InputException($"--epochs: {runDir}/options.json has no n_train_tokens to count epochs by; give --steps instead.");
            if (RequestedSteps(request.Steps, request.Epochs, options.NTrainTokens ?? 0, options) is long total) settings = settings with { TotalSteps = total };
            return new PreparedRun(runDir, held, settings, options, vocabulary);
        }
        catch
        {
            held?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Reads the corpus, vocabulary and options and checks they can train, all before a folder is created
    /// or claimed; then claims the folder and writes the run's options, vocabulary and plan into it.
    /// </summary>
    public static PreparedRun New(NewRunRequest request, ComputeDevice device, ModelInitialization? init, TextWriter log)
    {
        bool builtIn = request.Train is null;
        string? brown = builtIn ? BrownCorpus.ExtractText(BrownCorpus.DefaultTextDirectory) : null;
        var trainFiles = builtIn ? CorpusFiles.Expand(Path.Combine(brown!, "train"), "--train") : CorpusFiles.Expand(request.Train!, "--train");
        var devFiles = request.Dev is { } d ? CorpusFiles.Expand(d, "--dev") : builtIn ? CorpusFiles.Expand(Path.Combine(brown!, "dev"), "--dev") : null;
        var testFiles = request.Test is { } t ? CorpusFiles.Expand(t, "--test") : builtIn ? CorpusFiles.Expand(Path.Combine(brown!, "test"), "--test") : null;

        string presetName = request.Preset ?? ModelPresets.DefaultFor(device.Description.Kind);
        BilmOptions options;
        if (init is not null)
        {
            (options, var warnings) = init.TrainingOptions(request.Options, presetName);
            foreach (var w in warnings) log.WriteLine($"warning: {w}");
            log.WriteLine($"initial model: {init.Source}; architecture from its options, training settings from {request.Options ?? $"preset {presetName}"}");
        }
        else if (request.Options is { } optionsPath)
        {
            (options, var warnings) = BilmOptions.Load(optionsPath);
            foreach (var w in warnings) log.WriteLine($"warning: {w}");
        }
        else options = ModelPresets.Get(presetName);

        var reader = new SentenceReader();
        long targets = LmBatcher.CountTargets(trainFiles, reader);
        if (reader.Warning is { } warning) log.WriteLine(warning);
        if (targets == 0)
            throw new InputException(
                $"--train: the corpus ({trainFiles.Count} file(s), e.g. {trainFiles[0]}) has no trainable targets: every line is blank, whitespace or not UTF-8. Give text, one sentence per line.");
        long perBatch = (long)options.BatchSize * options.UnrollSteps;
        if (targets < perBatch)
            throw new InputException(
                $"--train: the corpus has {targets} targets per direction, fewer than one batch ({options.BatchSize} streams x {options.UnrollSteps} steps = {perBatch}). " +
                "Give more text, or lower batch_size or unroll_steps in --options.");

        Vocabulary vocabulary;
        if (init?.FixedVocabulary(request.Vocabulary) is { } fixedVocabulary) vocabulary = fixedVocabulary;
        else if (request.Vocabulary is { } vocabPath) vocabulary = Vocabulary.Load(vocabPath);
        else (vocabulary, _) = Vocabulary.Build(trainFiles, request.MinCount, new SentenceReader());
        if (options.NTokensVocab is { } n && n != vocabulary.Count)
            log.WriteLine($"warning: n_tokens_vocab is {n} in the options but the vocabulary has {vocabulary.Count} words; using the vocabulary's size.");
        var softmax = options.EffectiveSoftmax;
        if (!softmax.Fits(vocabulary.Count))
        {
            if (request.Options is { } given)
                throw new InputException(
                    $"{given}: softmax.cutoffs [{string.Join(", ", softmax.Cutoffs)}] must each be below the vocabulary's {vocabulary.Count} words; lower them or drop the last.");
            var fitted = softmax.FitTo(vocabulary.Count);
            log.WriteLine($"note: preset {presetName}'s adaptive-softmax cutoffs {string.Join(",", softmax.Cutoffs)} do not fit this vocabulary of {vocabulary.Count} words; using {string.Join(",", fitted.Cutoffs)}.");
            options = options with { Softmax = fitted };
        }
        options = options with { NTokensVocab = vocabulary.Count, Seed = request.Seed ?? options.Seed, NTrainTokens = targets };

        long stepsPerEpoch = StepsPerEpoch(targets, options);
        long total = RequestedSteps(request.Steps, request.Epochs, targets, options) ?? (long)Math.Ceiling(options.NEpochs * (double)stepsPerEpoch);
        if (total < 1) throw new InputException($"n_epochs {options.NEpochs} in the options gives no training step; ask for at least one (--steps or --epochs).");

        var (runDir, held) = request.Folder is { } outDir
            ? (outDir, RunFolder.ClaimForNewRun(outDir, request.Overwrite))
            : RunFolder.ClaimDefault("runs", DateTime.Now);
        try
        {
            var settings = new RunSettings(trainFiles.ToArray(), devFiles?.ToArray(), testFiles?.ToArray(), total,
                request.CheckpointEvery, request.EvalEvery, options.Seed, device.Description.ToString(), request.Freeze);
            options.Save(Path.Combine(runDir, "options.json"));
            vocabulary.Save(Path.Combine(runDir, "vocab.txt"));
            settings.Write(runDir);
            log.WriteLine($"run folder: {runDir}");
            log.WriteLine($"training corpus: {trainFiles.Count} file(s), {targets} targets per direction ({stepsPerEpoch} steps per epoch); vocabulary {vocabulary.Count} words; {total} steps");
            return new PreparedRun(runDir, held, settings, options, vocabulary);
        }
        catch
        {
            held.Dispose();
            throw;
        }
    }
}
