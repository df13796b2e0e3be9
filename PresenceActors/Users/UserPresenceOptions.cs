namespace PresenceActors.Users;

/// <summary>How user actors run: the rules' settings plus actor housekeeping.</summary>
public sealed record UserPresenceOptions
{
    public PresenceSettings Rules { get; init; } = PresenceSettings.Default;

    /// <summary>
    /// A snapshot replaces the journal every this many events: three writes (the snapshot, the deletion of the events and
    /// of the older snapshot) beside the journal's batches, so not often; a recovery replays at most this many small events.
    /// </summary>
    public int SnapshotEvery { get; init; } = 200;

    /// <summary>An idle user without a call, session or pending update leaves memory after this long.</summary>
    public TimeSpan PassivateAfter { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>A Graph or front-end call that has not answered by then counts as failed and is retried.</summary>
    public TimeSpan EffectTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Shards of the user region; about ten per node the cluster may grow to.</summary>
    public int MaxShards { get; init; } = 100;
}
