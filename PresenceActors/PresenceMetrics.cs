using System.Diagnostics.Metrics;

namespace PresenceActors;

/// <summary>The service's own metrics (System.Diagnostics.Metrics; exported through OpenTelemetry by the Host).</summary>
public static class PresenceMetrics
{
    public const string MeterName = "PresenceActors";

    private static readonly Meter Meter = new(MeterName);
    private static long _unwatched;
    private static long _watched;
    private static long _subscriptions;
    private static long _unhealthyAccounts;

    static PresenceMetrics()
    {
        Meter.CreateObservableGauge("presence.users.unwatched", () => Interlocked.Read(ref _unwatched),
            description: "Users no healthy technical account's subscription covers");
        Meter.CreateObservableGauge("presence.users.watched", () => Interlocked.Read(ref _watched),
            description: "Users covered by a healthy technical account");
        Meter.CreateObservableGauge("presence.subscriptions.active", () => Interlocked.Read(ref _subscriptions),
            description: "Presence subscriptions the pool holds");
        Meter.CreateObservableGauge("presence.accounts.unhealthy", () => Interlocked.Read(ref _unhealthyAccounts),
            description: "Technical accounts that cannot sign in");
    }

    public static void SetUnwatched(long unwatched, long watched)
    {
        Interlocked.Exchange(ref _unwatched, unwatched);
        Interlocked.Exchange(ref _watched, watched);
    }

    public static void SetSubscriptions(long active, long unhealthyAccounts)
    {
        Interlocked.Exchange(ref _subscriptions, active);
        Interlocked.Exchange(ref _unhealthyAccounts, unhealthyAccounts);
    }

    public static long Unwatched => Interlocked.Read(ref _unwatched);
}
