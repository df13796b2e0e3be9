using PresenceActors.Presence;

namespace PresenceActors.Users;

/// <summary>Tunables of the presence rules (docs/rules.md). Production defaults.</summary>
public sealed record PresenceSettings
{
    /// <summary>
    /// Which states cross, and what they set (docs/mapping.md). The seed's table by default: InACall and InAConferenceCall
    /// set UC Busy; InAMeeting is calendar-driven and deliberately absent. A running node takes the cluster's edited table.
    /// </summary>
    public PresenceMapping Mapping { get; init; } = PresenceMapping.Seed;

    /// <summary>expirationDuration of our setPresence session; Graph accepts PT5M to PT4H.</summary>
    public TimeSpan SessionTtl { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// The longest expirationDuration a set may have been sent with (presence.session.maxTtl, used while Graph's budget is
    /// tight): after a set whose outcome is unknown, our session is assumed to hold this long, so that it is cleared.
    /// </summary>
    public TimeSpan LongestSessionTtl { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>How often our session is re-sent while a UC call lasts; must be shorter than the TTL.</summary>
    public TimeSpan SessionRefresh { get; init; } = TimeSpan.FromMinutes(4);

    /// <summary>A UC call not reported ended after this long is taken as ended, and our Teams session cleared.</summary>
    public TimeSpan MaxUcCallLength { get; init; } = TimeSpan.FromHours(8);

    /// <summary>After our clearPresence, a notification still showing a call may be a late echo (Graph delivers within 1 min): a read confirms it first.</summary>
    public TimeSpan EchoGrace { get; init; } = TimeSpan.FromSeconds(90);

    /// <summary>First retry delay after a failed effect; doubles per consecutive failure up to <see cref="MaxRetryDelay"/>.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(2);

    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Restored at the end of a Teams call when the UC status before it was never reported.</summary>
    public UcStatus FallbackUcStatus { get; init; } = UcStatus.Available;

    /// <summary>Transitions kept per user for inspection.</summary>
    public int HistoryLength { get; init; } = 20;

    public static PresenceSettings Default { get; } = new();

    public TimeSpan Backoff(int consecutiveFailures)
    {
        var factor = Math.Pow(2, Math.Clamp(consecutiveFailures - 1, 0, 20));
        var delay = TimeSpan.FromTicks((long)Math.Min(RetryDelay.Ticks * factor, MaxRetryDelay.Ticks));
        return delay < RetryDelay ? RetryDelay : delay;
    }

    /// <summary>One message per invalid setting, naming it; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        problems.AddRange(Mapping.Problems().Select(p => $"Mapping: {p}"));
        if (SessionTtl <= TimeSpan.Zero)
            problems.Add("SessionTtl must be positive (Graph accepts PT5M to PT4H).");
        if (SessionRefresh <= TimeSpan.Zero || SessionRefresh >= SessionTtl)
            problems.Add($"SessionRefresh ({SessionRefresh}) must be positive and shorter than SessionTtl ({SessionTtl}), or Teams drops the busy state between refreshes.");
        if (RetryDelay <= TimeSpan.Zero || MaxRetryDelay < RetryDelay)
            problems.Add("RetryDelay must be positive and MaxRetryDelay at least RetryDelay.");
        if (LongestSessionTtl < SessionTtl)
            problems.Add($"LongestSessionTtl ({LongestSessionTtl}) must be at least SessionTtl ({SessionTtl}).");
        if (MaxUcCallLength < SessionTtl)
            problems.Add($"MaxUcCallLength ({MaxUcCallLength}) must be at least SessionTtl ({SessionTtl}).");
        if (HistoryLength < 1)
            problems.Add("HistoryLength must be at least 1.");
        return problems;
    }
}
