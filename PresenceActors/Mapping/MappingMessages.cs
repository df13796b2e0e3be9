using System.Collections.Immutable;
using PresenceActors.Users;

namespace PresenceActors.Mapping;

/// <summary>Registry key of the mapping singleton (its proxy on every node).</summary>
public sealed class PresenceMappingKey;

/// <summary>Registry key of this node's mapping follower.</summary>
public sealed class MappingFollowerKey;

/// <summary>Marker binding the mapping's protocol and events to <see cref="MappingSerializer"/>.</summary>
public interface IMappingMessage;

/// <summary>An edit of the mapping, journaled: the audit trail of docs/mapping.md.</summary>
/// <param name="By">Who saved it, as the admin port knows them (how they signed in, from where).</param>
public sealed record MappingSaved(PresenceMapping Mapping, string By, DateTimeOffset At, string? Comment) : IMappingMessage;

public static class MappingCommands
{
    /// <summary>Answered with <see cref="CurrentMapping"/>.</summary>
    public sealed record GetMapping : IMappingMessage;

    public sealed record CurrentMapping(PresenceMapping Mapping) : IMappingMessage;

    /// <summary>
    /// Saves <paramref name="Proposed"/> as the next version if the table in force is still <paramref name="BasedOn"/>
    /// (two operators editing at once: the second is told, not overwritten). Answered with <see cref="SaveResult"/>.
    /// </summary>
    public sealed record SaveMapping(PresenceMapping Proposed, int BasedOn, string By, string? Comment) : IMappingMessage;

    public sealed record SaveResult(bool Saved, PresenceMapping Current, ImmutableArray<string> Problems) : IMappingMessage;

    /// <summary>Answered with <see cref="MappingHistory"/>: the saved edits, newest last, without their tables.</summary>
    public sealed record GetMappingHistory : IMappingMessage;

    public sealed record MappingHistory(ImmutableArray<MappingEditSummary> Edits) : IMappingMessage;

    /// <summary>One saved edit for the history: which version, when, who and why (the table stays in the journal).</summary>
    public sealed record MappingEditSummary(int Version, DateTimeOffset At, string By, string? Comment) : IMappingMessage;

    /// <summary>
    /// Sent to every node's follower: which of its users in memory would change under <paramref name="Proposed"/>.
    /// Answered with <see cref="PreviewResult"/>.
    /// </summary>
    public sealed record PreviewMapping(PresenceMapping Proposed) : IMappingMessage;

    /// <param name="Examined">Users in memory on the node whose state was read.</param>
    /// <param name="Changing">How many of them would change; <paramref name="Changes"/> lists the first <see cref="MappingFollower.PreviewListed"/>.</param>
    public sealed record PreviewResult(int Examined, int Changing, ImmutableArray<PreviewChange> Changes) : IMappingMessage;

    /// <summary>One user the proposed table would change, and how (the rules' own notes and writes).</summary>
    public sealed record PreviewChange(string UserId, string? UcUserId, string Teams, string? UcStatus, ImmutableArray<string> Writes) : IMappingMessage;
}

/// <summary>The mapping singleton's snapshot: the table in force and the recent edits.</summary>
public sealed record MappingSnapshot(PresenceMapping Current, ImmutableArray<MappingSaved> Edits) : IMappingMessage;
