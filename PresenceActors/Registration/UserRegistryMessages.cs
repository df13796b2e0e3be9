using System.Collections.Immutable;

namespace PresenceActors.Registration;

/// <summary>Registry key of the user registry singleton (its proxy on every node).</summary>
public sealed class UserRegistryKey;

/// <summary>Marker binding the registry's protocol and events to <see cref="RegistrationSerializer"/>.</summary>
public interface IUserRegistryMessage;

/// <summary>A UC user and the Teams (Entra) user its presence is kept in step with.</summary>
public sealed record UserMapping(string UcUserId, string TeamsUserId, string UserPrincipalName) : IUserRegistryMessage;

public sealed record UserRegistered(UserMapping Mapping) : IUserRegistryMessage;

public sealed record UserUnregistered(string UcUserId) : IUserRegistryMessage;

/// <summary>Registrations journaled together, in order (docs/scale.md, "Registrations in batches").</summary>
public sealed record UsersRegistered(ImmutableArray<UserMapping> Mappings) : IUserRegistryMessage;

/// <summary>Removals journaled together, in order.</summary>
public sealed record UsersUnregistered(ImmutableArray<string> UcUserIds) : IUserRegistryMessage;

/// <summary>A link the registry asked a user's actor for (a UC user id, or null: unlinked) and has not seen confirmed.</summary>
public sealed record PendingLink(string TeamsUserId, string? UcUserId) : IUserRegistryMessage;

/// <summary>Users' actors confirmed these links (journaled in batches): recovery re-sends only the others.</summary>
public sealed record LinksConfirmed(ImmutableArray<PendingLink> Links) : IUserRegistryMessage;

/// <summary>An operator left this UC user out of the synchronisation (docs/mapping.md, "Leaving a user out").</summary>
public sealed record UserOptedOut(string UcUserId, string By) : IUserRegistryMessage;

/// <summary>The UC user is synchronised again.</summary>
public sealed record UserOptedIn(string UcUserId, string By) : IUserRegistryMessage;

/// <param name="Unconfirmed">Links not yet confirmed when the snapshot was taken (absent in snapshots of older versions).</param>
/// <param name="OptedOut">UC users left out of the synchronisation (absent in snapshots of older versions).</param>
public sealed record RegistrySnapshot(ImmutableArray<UserMapping> Mappings, ImmutableArray<PendingLink>? Unconfirmed = null, ImmutableArray<string>? OptedOut = null)
    : IUserRegistryMessage;

public enum RegistrationOutcome
{
    Registered,
    Unchanged,

    /// <summary>The Teams user is already mapped to another UC user.</summary>
    Conflict,
}

public static class UserRegistryCommands
{
    /// <param name="Relink">When the mapping exists already, link the user's actor again anyway (a single registration
    /// does; the bulk list does not, or every sync of the whole list would start every user's actor).</param>
    public sealed record Register(UserMapping Mapping, bool Relink = true) : IUserRegistryMessage;

    public sealed record RegisterResult(RegistrationOutcome Outcome, UserMapping Mapping, string? ConflictingUcUserId) : IUserRegistryMessage;

    public sealed record Unregister(string UcUserId) : IUserRegistryMessage;

    /// <summary>
    /// Registers many mappings at once (the UC back end's full list, in messages of at most <see cref="RegisterManyAtOnce"/>),
    /// each checked as <see cref="Register"/> without relinking. Answered with <see cref="RegisteredMany"/> once journaled.
    /// </summary>
    public sealed record RegisterMany(ImmutableArray<UserMapping> Mappings) : IUserRegistryMessage
    {
        /// <summary>Mappings per message: at worst (every character escaped) about 1.5 MB, within hocon/cluster.hocon's 4 MiB frames.</summary>
        public const int RegisterManyAtOnce = 2_000;
    }

    /// <param name="Outcomes">One per mapping asked, in order.</param>
    /// <param name="ConflictingUcUserIds">For each conflict, the UC user the Teams user is mapped to already; null otherwise.</param>
    public sealed record RegisteredMany(ImmutableArray<RegistrationOutcome> Outcomes, ImmutableArray<string?> ConflictingUcUserIds) : IUserRegistryMessage;

    /// <summary>Removes many registrations at once; answered with <see cref="UnregisteredMany"/> once journaled.</summary>
    public sealed record UnregisterMany(ImmutableArray<string> UcUserIds) : IUserRegistryMessage;

    public sealed record UnregisteredMany(int Removed) : IUserRegistryMessage;

    public sealed record Lookup(string UcUserId) : IUserRegistryMessage;

    /// <summary>Answer to <see cref="Unregister"/> and <see cref="Lookup"/>: the mapping, or null when there is none.</summary>
    /// <param name="Synchronised">False when the user is left out (docs/mapping.md, "Leaving a user out").</param>
    public sealed record LookupResult(UserMapping? Mapping, bool Synchronised = true) : IUserRegistryMessage;

    /// <summary>
    /// One page of the mappings, by UC user id, after <paramref name="After"/> (null: from the first): answered with a
    /// <see cref="MappingList"/> small enough for one remoting frame, whatever the number of users (see
    /// <see cref="RegistryPages.AllMappingsAsync"/>).
    /// </summary>
    public sealed record ListMappings(string? After = null) : IUserRegistryMessage;

    /// <summary>Answered with <see cref="UnconfirmedLinks"/>.</summary>
    public sealed record GetUnconfirmedLinks : IUserRegistryMessage;

    /// <summary>How many links users' actors have not confirmed yet (sent again every few seconds).</summary>
    public sealed record UnconfirmedLinks(int Count) : IUserRegistryMessage;

    /// <param name="Next">The last UC user id of this page when more follow (ask again after it); null on the last page.</param>
    public sealed record MappingList(ImmutableArray<UserMapping> Mappings, string? Next = null) : IUserRegistryMessage;

    /// <summary>
    /// Leaves a registered UC user out of the synchronisation (<paramref name="Synchronised"/> false) or takes them back.
    /// Answered with <see cref="SyncSetting"/>; with a null mapping when the UC user is not registered.
    /// </summary>
    public sealed record SetSynchronised(string UcUserId, bool Synchronised, string By) : IUserRegistryMessage;

    /// <summary>Answered with <see cref="SyncSetting"/>.</summary>
    public sealed record GetSynchronised(string UcUserId) : IUserRegistryMessage;

    public sealed record SyncSetting(UserMapping? Mapping, bool Synchronised) : IUserRegistryMessage;

    /// <summary>Answered with <see cref="OptedOutUsers"/>.</summary>
    public sealed record ListOptedOut : IUserRegistryMessage;

    public sealed record OptedOutUsers(ImmutableArray<string> UcUserIds) : IUserRegistryMessage;
}
