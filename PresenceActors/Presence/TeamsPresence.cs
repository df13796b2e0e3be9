namespace PresenceActors.Presence;

/// <summary>A user's aggregated Teams presence as Graph shows it, with Graph's version stamp where known.</summary>
/// <param name="SequenceNumber">Graph's "lexicographically sortable" presence version; null when the source did not carry one.</param>
public sealed record TeamsPresence(TeamsAvailability Availability, TeamsActivity Activity, string? SequenceNumber = null)
{
    public static TeamsPresence Parse(string availability, string activity, string? sequenceNumber = null) =>
        new(TeamsAvailability.Parse(availability), TeamsActivity.Parse(activity),
            string.IsNullOrWhiteSpace(sequenceNumber) ? null : sequenceNumber);

    /// <summary>True when both carry a version and this one is older than <paramref name="current"/>.</summary>
    public bool IsOlderThan(TeamsPresence current) =>
        SequenceNumber is not null && current.SequenceNumber is not null
        && string.CompareOrdinal(SequenceNumber, current.SequenceNumber) < 0;

    /// <summary>The same state at the same (or an unknown) version: a duplicate delivery.</summary>
    public bool IsRepeatOf(TeamsPresence current) =>
        SameStateAs(current) && (SequenceNumber is null || SequenceNumber == current.SequenceNumber);

    public bool SameStateAs(TeamsPresence other) => Availability == other.Availability && Activity == other.Activity;

    public override string ToString() => $"{Availability}/{Activity}";
}
