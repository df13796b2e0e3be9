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

public sealed record RegistrySnapshot(ImmutableArray<UserMapping> Mappings) : IUserRegistryMessage;

public enum RegistrationOutcome
{
    Registered,
    Unchanged,

    /// <summary>The Teams user is already mapped to another UC user.</summary>
    Conflict,
}

public static class UserRegistryCommands
{
    public sealed record Register(UserMapping Mapping) : IUserRegistryMessage;

    public sealed record RegisterResult(RegistrationOutcome Outcome, UserMapping Mapping, string? ConflictingUcUserId) : IUserRegistryMessage;

    public sealed record Unregister(string UcUserId) : IUserRegistryMessage;

    public sealed record Lookup(string UcUserId) : IUserRegistryMessage;

    /// <summary>Answer to <see cref="Unregister"/> and <see cref="Lookup"/>: the mapping, or null when there is none.</summary>
    public sealed record LookupResult(UserMapping? Mapping) : IUserRegistryMessage;

    public sealed record ListMappings : IUserRegistryMessage;

    public sealed record MappingList(ImmutableArray<UserMapping> Mappings) : IUserRegistryMessage;
}
