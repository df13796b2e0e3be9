using System.Globalization;
using Microsoft.Extensions.Configuration;
using PresenceActors.Ingress;

namespace PresenceActors.Host.Configuration;

public static partial class PresenceConfiguration
{
    /// <summary>The fail-over timings (presence.cluster.*) and the ingress log's bounds (presence.ingress.*).</summary>
    private static (TimeSpan HeartbeatPause, TimeSpan StableAfter, TimeSpan DownRemovalMargin, IngressOptions Ingress) ReadTimings(
        IConfiguration configuration, List<string> found)
    {
        TimeSpan Duration(string key, TimeSpan fallback, TimeSpan min, TimeSpan max)
        {
            if (Get(configuration, key) is not { } text)
                return fallback;
            if (TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max)
                return value;
            found.Add($"{key} = '{text}' is not a duration from {min:c} to {max:c}.");
            return fallback;
        }

        var defaults = new PresenceActors.Cluster.PresenceClusterOptions();
        var pause = Duration("presence.cluster.heartbeatPause", defaults.HeartbeatPause, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1));
        var stable = Duration("presence.cluster.stableAfter", defaults.StableAfter, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(5));
        var margin = Duration("presence.cluster.downRemovalMargin", defaults.DownRemovalMargin, TimeSpan.Zero, TimeSpan.FromMinutes(5));
        var commit = Duration("presence.ingress.commitTimeout", new IngressOptions().AppendTimeout, TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(2500));
        var lease = Duration("presence.ingress.lease", new IngressOptions().Lease, TimeSpan.FromSeconds(2), TimeSpan.FromMinutes(5));
        var backlog = new IngressOptions().MaxBacklog;
        if (Get(configuration, "presence.ingress.maxBacklog") is { } text)
        {
            if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) && parsed is >= 100 and <= 10_000_000)
                backlog = parsed;
            else
                found.Add($"presence.ingress.maxBacklog = '{text}' is not a whole number from 100 to 10000000.");
        }

        return (pause, stable, margin, new IngressOptions { MaxBacklog = backlog, AppendTimeout = commit, Lease = lease });
    }
}
