namespace PresenceActors.Users;

/// <summary>Messages addressed to one user's actor; the shard extractor routes on <see cref="UserId"/> (the Entra object id).</summary>
public interface IWithUserId
{
    string UserId { get; }
}

/// <summary>Marker binding the user-presence protocol to <see cref="PresenceSerializer"/>.</summary>
public interface IUserPresenceMessage : IWithUserId;

public static class UserPresenceCommands
{
    /// <param name="Acknowledge">Answer with <see cref="LinkState"/> once it is journaled (the registry retries until then).</param>
    public sealed record LinkUser(string UserId, string UcUserId, bool Acknowledge = false) : IUserPresenceMessage;

    /// <param name="Acknowledge">Answer with <see cref="LinkState"/> once it is journaled.</param>
    public sealed record UnlinkUser(string UserId, bool Acknowledge = false) : IUserPresenceMessage;

    /// <summary>
    /// The answer to an acknowledged <see cref="LinkUser"/> or <see cref="UnlinkUser"/>: the UC user the actor is linked
    /// to now (journaled), null when unlinked. The registry takes a link as confirmed when this matches what it asked.
    /// </summary>
    public sealed record LinkState(string UserId, string? UcUserId) : IUserPresenceMessage, Akka.Event.IDeadLetterSuppression;

    public sealed record ObserveTeamsPresence(
        string UserId,
        string Availability,
        string Activity,
        string? SequenceNumber,
        TeamsPresenceSource Source,
        bool Acknowledge = false,
        string? TraceParent = null) : IUserPresenceMessage;

    /// <param name="TraceParent">The sender's span (W3C traceparent), so that the actor's work joins its trace.</param>
    /// <param name="UcUserId">The UC user reported for, as the registry maps it: links an actor that has no link yet.</param>
    public sealed record ReportUcPresence(string UserId, string Status, bool OnPhone, DateTimeOffset ReportedAt, bool Acknowledge = false,
        string? TraceParent = null, string? UcUserId = null) : IUserPresenceMessage;

    /// <summary>The cluster's mapping is now <paramref name="Version"/>: judge the user's state by it (docs/mapping.md).</summary>
    public sealed record ApplyRules(string UserId, int Version) : IUserPresenceMessage;

    /// <summary>
    /// The answer to an observation or report sent with <c>Acknowledge</c>: it is journaled (or was a duplicate, stale
    /// or changed nothing). Until then the sender has not taken it: the webhook and the internal API answer 2xx only
    /// after this, so Graph and the UC back end send again whatever a crash or a shard hand-off lost.
    /// </summary>
    /// <remarks>
    /// One that arrives after its asker gave up (the ask timed out, the item was answered 503 and counted as not taken)
    /// reaches nobody: expected then, so it is not reported as a dead letter.
    /// </remarks>
    public sealed record Taken(string UserId) : IUserPresenceMessage, Akka.Event.IDeadLetterSuppression;
}

/// <summary>
/// Stops a user's actor after the writes it has begun (the shard's hand-off stop and passivation). A PoisonPill stops
/// it at once, with its last event possibly still on its way to the journal: the next incarnation on another node could
/// then recover without it (the cluster's rolling restart lost a restore that way). Sent only by the local shard.
/// </summary>
public sealed class StopUserActor : Akka.Actor.INoSerializationVerificationNeeded
{
    public static readonly StopUserActor Instance = new();

    private StopUserActor()
    {
    }
}

public static class UserPresenceQueries
{
    /// <summary>Answered with <see cref="UserPresenceSnapshot"/>: what the rest of the service reads of a user.</summary>
    public sealed record GetSnapshot(string UserId) : IUserPresenceMessage;

    /// <summary>
    /// Answered with <see cref="UserPresenceView"/>, the whole state: for the user feature itself (the mapping preview
    /// runs the rules over it) and its tests, never for the HTTP surfaces.
    /// </summary>
    internal sealed record GetUserPresence(string UserId) : IUserPresenceMessage;

    internal sealed record UserPresenceView(string UserId, UserPresenceState State) : IUserPresenceMessage;
}

/// <summary>
/// One rule that fired for one user, published on the local EventStream for the status page's live feed. Never
/// serialized: it does not leave the node that made the decision.
/// </summary>
public sealed record SyncDecision(
    DateTimeOffset At,
    string UserId,
    string? UcUserId,
    string Rule,
    string Detail,
    string? TeamsAvailability,
    string? TeamsActivity,
    string? UcStatus);
