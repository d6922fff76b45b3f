namespace IlgpuElmo.Distributed;

/// <summary>
/// Thrown on every rank when a rank could not prepare a data-parallel run: all of them stop normally (no
/// MPI_Abort is needed, none waits in a collective), rank 0's error printed.
/// </summary>
public sealed class RanksStoppedTogetherException(string message, Exception? inner = null) : InputException(message, inner);
