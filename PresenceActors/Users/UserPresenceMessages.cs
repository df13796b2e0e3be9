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
    public sealed record LinkUser(string UserId, string UcUserId) : IUserPresenceMessage;

    public sealed record UnlinkUser(string UserId) : IUserPresenceMessage;

    public sealed record ObserveTeamsPresence(
        string UserId,
        string Availability,
        string Activity,
        string? SequenceNumber,
        TeamsPresenceSource Source) : IUserPresenceMessage;

    public sealed record ReportUcPresence(string UserId, string Status, bool OnPhone, DateTimeOffset ReportedAt) : IUserPresenceMessage;
}

public static class UserPresenceQueries
{
    /// <summary>Answered with <see cref="UserPresenceView"/>.</summary>
    public sealed record GetUserPresence(string UserId) : IUserPresenceMessage;

    public sealed record UserPresenceView(string UserId, UserPresenceState State) : IUserPresenceMessage;
}
