namespace PresenceActors.Cluster;

/// <summary>Akka remoting and cluster membership of this Facade node.</summary>
public sealed record PresenceClusterOptions
{
    public const string SystemName = "presence";

    /// <summary>Address the node binds to.</summary>
    public string Hostname { get; init; } = "127.0.0.1";

    /// <summary>Address other nodes reach this one at; defaults to <see cref="Hostname"/>.</summary>
    public string? PublicHostname { get; init; }

    public int Port { get; init; } = 4053;

    /// <summary>Port other nodes reach this one at (a container's published port, a relay); defaults to <see cref="Port"/>.</summary>
    public int? PublicPort { get; init; }

    /// <summary>The host other nodes know this one by.</summary>
    public string AdvertisedHostname => PublicHostname ?? Hostname;

    /// <summary>The port other nodes know this one by.</summary>
    public int AdvertisedPort => PublicPort ?? Port;

    /// <summary>The address other nodes know this one by (host:port).</summary>
    public string Advertised => $"{AdvertisedHostname}:{AdvertisedPort}";

    /// <summary>What this node advertises it understands (<see cref="PresenceActors.Cluster.Capabilities"/>); tests leave some out to act as an earlier release.</summary>
    public IReadOnlyList<string> Capabilities { get; init; } = PresenceActors.Cluster.Capabilities.All;

    /// <summary>Static seed nodes (akka.tcp://presence@host:port). Empty: this node forms a cluster of its own.</summary>
    public IReadOnlyList<string> SeedNodes { get; init; } = [];

    /// <summary>
    /// With seed nodes: how long a node may stay short of Up (a cluster forms only with a majority of the seed list's length in members)
    /// before it shuts down, for its supervisor to start it again.
    /// </summary>
    public TimeSpan UpWithin { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// How long heartbeats may stay away before a node counts as unreachable (acceptable-heartbeat-pause). With
    /// <see cref="StableAfter"/> and <see cref="DownRemovalMargin"/> it sets how long a dead node's users wait
    /// (docs/decisions.md, "Fail-over timings").
    /// </summary>
    public TimeSpan HeartbeatPause { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How long membership must stay unchanged before the split-brain resolver (keep-majority) decides.</summary>
    public TimeSpan StableAfter { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How long after a node is removed its singletons and shards start elsewhere.</summary>
    public TimeSpan DownRemovalMargin { get; init; } = TimeSpan.FromSeconds(1);
}
