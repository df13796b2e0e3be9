using Akka.Actor;

namespace PresenceActors.Users;

/// <summary>
/// What the user feature shows of one user to the rest of the service (the internal API, the status page, the admin
/// surface): a read model it owns, so that its state can change shape without breaking them. Answer to
/// <see cref="UserPresenceQueries.GetSnapshot"/>.
/// </summary>
/// <param name="UcCallActive">The UC side reports the user on the phone.</param>
/// <param name="TeamsSessionActive">The bridge holds, or is setting, a Teams presence session for a UC call.</param>
/// <param name="LastUcSequence">The sequence number of the last UC update the user's actor sent.</param>
/// <param name="LastUcAcknowledged">The last of them a UC front end acknowledged.</param>
public sealed record UserPresenceSnapshot(
    string UserId,
    string? UcUserId,
    string? TeamsAvailability,
    string? TeamsActivity,
    string? TeamsSequenceNumber,
    string? UcStatus,
    string? UcPriorStatus,
    bool TeamsCallActive,
    bool UcCallActive,
    bool RestorePending,
    bool TeamsSessionActive,
    DateTimeOffset? SessionExpiresAt,
    long LastUcSequence,
    long LastUcAcknowledged,
    IReadOnlyList<PresenceTransition> History) : IUserPresenceMessage
{
    internal static UserPresenceSnapshot Of(UserPresenceState state) => new(
        state.UserId, state.UcUserId,
        state.Teams?.Availability.Value, state.Teams?.Activity.Value, state.Teams?.SequenceNumber,
        state.UcCurrent?.Value, state.UcPrior?.Value,
        state.TeamsCallActive, state.UcOnPhone, state.RestorePending,
        state.Session.ExpiresAt is not null || state.Session.InFlight is not null, state.Session.ExpiresAt,
        state.Outbox.LastSequence, state.Outbox.LastAcknowledged, state.History);
}

public static class UserSnapshots
{
    /// <summary>
    /// A user's snapshot from the user region. In this release it is built on the asking node from the state
    /// (<see cref="UserPresenceQueries.GetUserPresence"/>), which nodes of the previous release answer too, so that a
    /// rolling upgrade keeps the API and the status page working; <see cref="UserPresenceQueries.GetSnapshot"/> is
    /// understood from this release on, for the next one to ask (docs/decisions.md, "A read model, and rolling upgrades").
    /// </summary>
    public static async Task<UserPresenceSnapshot> AskSnapshotAsync(this IActorRef users, string userId, TimeSpan timeout, CancellationToken cancellationToken = default) =>
        UserPresenceSnapshot.Of((await users.Ask<UserPresenceQueries.UserPresenceView>(new UserPresenceQueries.GetUserPresence(userId), timeout, cancellationToken)).State);
}
