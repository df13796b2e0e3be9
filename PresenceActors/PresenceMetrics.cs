using System.Diagnostics.Metrics;

namespace PresenceActors;

/// <summary>The service's own metrics (System.Diagnostics.Metrics; exported through OpenTelemetry by the Host).</summary>
public static class PresenceMetrics
{
    public const string MeterName = "PresenceActors";

    private static readonly Meter Meter = new(MeterName);
    private static long _unwatched;
    private static long _watched;

    static PresenceMetrics()
    {
        Meter.CreateObservableGauge("presence.users.unwatched", () => Interlocked.Read(ref _unwatched),
            description: "Users no healthy technical account's subscription covers");
        Meter.CreateObservableGauge("presence.users.watched", () => Interlocked.Read(ref _watched),
            description: "Users covered by a healthy technical account");
    }

    public static void SetUnwatched(long unwatched, long watched)
    {
        Interlocked.Exchange(ref _unwatched, unwatched);
        Interlocked.Exchange(ref _watched, watched);
    }

    public static long Unwatched => Interlocked.Read(ref _unwatched);
}
