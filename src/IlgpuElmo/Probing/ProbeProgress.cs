namespace IlgpuElmo.Probing;

/// <summary>
/// Where a probe run is: a stage ("embedding training tokens", "training layer 1 (LSTM 1)") and how
/// far through it, in the stage's own unit (tokens embedded, classifier updates made).
/// </summary>
public sealed record ProbeProgress(string Stage, long Done, long Total, string Unit);
