namespace PresenceActors.Ingress;

/// <summary>What became of a request's items at the webhook.</summary>
public enum AppendResult
{
    /// <summary>Committed: answer 202, nothing can be lost any more.</summary>
    Committed,

    /// <summary>The backlog is at its bound: answer 503 at once.</summary>
    Full,

    /// <summary>The commit did not come in time (the database stalled or failed): answer 503.</summary>
    Unwritable,
}

/// <summary>What processing made of an entry: the items still to do (none: the entry is finished).</summary>
/// <param name="Remaining">The entry's body with only the items still to do; null when none is left.</param>
/// <param name="Reason">Why they wait (for the log and the metrics).</param>
/// <param name="Ready">Completes when trying again is worth it before the back-off ends (a subscription became known).</param>
/// <param name="Soon">Try again after the first pause, without back-off: the attempt itself waited (an actor's or the
/// pool's confirmation timed out while a shard or singleton moves), and the item should go as soon as it is back.</param>
public sealed record IngressOutcome(string? Remaining, int RemainingItems, string? Reason = null, Func<TimeSpan, Task>? Ready = null, bool Soon = false)
{
    public static readonly IngressOutcome Done = new(null, 0);
}

/// <summary>Processes an entry after its request was answered: decrypts, checks and hands its items to the users' actors.</summary>
public interface IIngressHandler
{
    Task<IngressOutcome> HandleAsync(IngressEntry entry, CancellationToken cancellationToken);
}
