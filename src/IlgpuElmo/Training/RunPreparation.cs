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
    public static PreparedRun Resume(ResumeRequest request, ComputeDevice device, TextWriter log, int ranks, bool claim)
    {
        string runDir = request.Folder;
        var held = claim ? RunFolder.ClaimForResume(runDir) : null;
        try
        {
            var settings = RunSettings.Read(runDir);
            CheckSameCorpus(request.Train, "--train", settings.TrainFiles, runDir);
            CheckSameCorpus(request.Dev, "--dev", settings.DevFiles, runDir);
            CheckSameCorpus(request.Test, "--test", settings.TestFiles, runDir);
            if (request.Seed is { } seed && seed != settings.Seed)
                throw new InputException(
                    $"--seed {seed}: the run in {runDir} was started with seed {settings.Seed} and continues with it (its data order and dropout follow from it); " +
                    $"resume without --seed, or train this model further in a new run with --init {runDir} --seed {seed}.");
            settings.CheckCorpus(runDir);
            var (options, warnings) = BilmOptions.Load(Path.Combine(runDir, "options.json"));
            foreach (var w in warnings) log.WriteLine($"warning: {w}");
            if (request.Options is { } given && BilmOptions.Load(given).Options.ToJson() != options.ToJson())
                throw new InputException($"--options {given} differs from the options the run in {runDir} was started with; resume without --options.");
            var vocabulary = Vocabulary.Load(Path.Combine(runDir, "vocab.txt"));
            if (request.Vocabulary is { } v && !Vocabulary.Load(v).Words.SequenceEqual(vocabulary.Words))
                throw new InputException($"--vocab {v} differs from the vocabulary the run in {runDir} was started with; resume without --vocab.");
            CheckFits(options, vocabulary.Count, ranks, device, Path.Combine(runDir, "options.json"));
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

    /// <summary>Throws when <paramref name="given"/> names other files than the run recorded for <paramref name="option"/>.</summary>
    static void CheckSameCorpus(string? given, string option, string[]? recorded, string runDir)
    {
        if (given is null) return;
        var files = CorpusFiles.Expand(given, option);
        if (recorded is not null && files.Select(Path.GetFullPath).SequenceEqual(recorded.Select(Path.GetFullPath))) return;
        string recordedCorpus = recorded is null
            ? $"was started without {option} and continues without it"
            : $"continues on the corpus it recorded ({recorded.Length} file(s), e.g. {recorded[0]}), not on another";
        throw new InputException(
            $"{option} {given}: the run in {runDir} {recordedCorpus}; " +
            $"resume without {option}, or train this model on that text in a new run: elmo train --init {runDir} {option} {given}.");
    }

    /// <summary>
    /// Throws, with the estimate, when training <paramref name="options"/> needs more memory than the device has,
    /// before anything is allocated or a folder claimed. <paramref name="source"/> names where the options came from.
    /// </summary>
    static void CheckFits(BilmOptions options, int vocabularySize, int ranks, ComputeDevice device, string source)
    {
        var estimate = TrainingMemoryEstimate.For(options, vocabularySize, Math.Max(1, options.BatchSize / ranks));
        long memory = device.Description.MemoryBytes;
        if (estimate.TotalBytes <= memory) return;
        throw new InputException(
            $"{source}: training this model needs at least {ComputeDevice.FormatBytes(estimate.TotalBytes)} " +
            $"({estimate.Parameters:N0} parameters with their gradients and {options.Optimizer.ToString().ToLowerInvariant()} state: {ComputeDevice.FormatBytes(estimate.ParameterBytes)}; " +
            $"LSTM activations of a window: {ComputeDevice.FormatBytes(estimate.ActivationBytes)}) but {device.Description.Name} has {ComputeDevice.FormatBytes(memory)}; " +
            "lower lstm.dim, lstm.projection_dim, lstm.n_layers, batch_size or unroll_steps, or train on a device with more memory.");
    }

    /// <summary>
    /// Reads the corpus, vocabulary and options and checks they can train, all before a folder is created
    /// or claimed; then claims the folder and writes the run's options, vocabulary and plan into it.
    /// </summary>
    public static PreparedRun New(NewRunRequest request, ComputeDevice device, ModelInitialization? init, TextWriter log, int ranks, CancellationToken cancel)
    {
        bool builtIn = request.Train is null;
        string? brown = builtIn ? BrownCorpus.ExtractText(BrownCorpus.DefaultTextDirectory) : null;
        var trainFiles = builtIn ? CorpusFiles.Expand(Path.Combine(brown!, "train"), "--train") : CorpusFiles.Expand(request.Train!, "--train", log);
        var devFiles = request.Dev is { } d ? CorpusFiles.Expand(d, "--dev", log) : builtIn ? CorpusFiles.Expand(Path.Combine(brown!, "dev"), "--dev") : null;
        var testFiles = request.Test is { } t ? CorpusFiles.Expand(t, "--test", log) : builtIn ? CorpusFiles.Expand(Path.Combine(brown!, "test"), "--test") : null;

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
        long targets = LmBatcher.CountTargets(trainFiles, reader, cancel);
        if (reader.Warning is { } warning) log.WriteLine(warning);
        if (reader.CutNote is { } note) log.WriteLine(note);
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
        if (vocabulary.Words.All(Vocabulary.IsSpecial))
        {
            string learnsNothing = $"every word would be {Vocabulary.Unk}, and a model that predicts only {Vocabulary.Unk} learns nothing (its perplexity near 1 means nothing)";
            throw new InputException(init?.FixedVocabulary(null) is not null ? $"{init.Source}: its vocabulary has no word besides {Vocabulary.Bos}, {Vocabulary.Eos} and {Vocabulary.Unk}: {learnsNothing}."
                : request.Vocabulary is { } given ? $"--vocab {given} has no word besides {Vocabulary.Bos}, {Vocabulary.Eos} and {Vocabulary.Unk}: {learnsNothing}. Give a vocabulary of the corpus's words (elmo vocab --train ...)."
                : $"--min-count {request.MinCount} keeps no word of the corpus: {learnsNothing}. Lower --min-count or give more text.");
        }
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

        CheckFits(options, vocabulary.Count, ranks, device, request.Options ?? init?.Source ?? $"preset {presetName}");
        var stamps = trainFiles.Concat(devFiles ?? []).Concat(testFiles ?? []).Distinct().Select(CorpusStamp.Take).ToArray();
        // The last moment a stop leaves nothing behind.
        cancel.ThrowIfCancellationRequested();
        var (runDir, held) = request.Folder is { } outDir
            ? (outDir, RunFolder.ClaimForNewRun(outDir, request.Overwrite))
            : RunFolder.ClaimDefault("runs", DateTime.Now);
        try
        {
            var settings = new RunSettings(trainFiles.ToArray(), devFiles?.ToArray(), testFiles?.ToArray(), total,
                request.CheckpointEvery, request.EvalEvery, options.Seed, device.Description.ToString(), request.Freeze, RunSettings.NewRunId(), stamps);
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
