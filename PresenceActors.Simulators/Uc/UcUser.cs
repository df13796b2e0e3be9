using System.Net;

namespace PresenceActors.Simulators.Uc;

public enum FrontEndMode
{
    /// <summary>Applies updates and answers 200.</summary>
    Up,

    /// <summary>Not listening: connections are refused.</summary>
    Refusing,

    /// <summary>Listening, answering 503.</summary>
    Failing,
}

/// <summary>A simulated OpenScape UC user: the status UC shows, the phone line, and what the bridge last set.</summary>
public sealed class UcUser
{
    public required string UcUserId { get; init; }

    public string Status { get; set; } = "Available";

    public bool OnPhone { get; set; }

    public long LastAppliedSequence { get; set; }

    /// <summary>Every status it had, with who set it ("person", "bridge").</summary>
    public List<(DateTimeOffset At, string Status, string By)> History { get; } = [];

    /// <summary>The back end reports one user at a time, in order (a report waits for the one before it).</summary>
    internal SemaphoreSlim Reporting { get; } = new(1, 1);

    /// <summary>Counts the reports asked for; a report sent covers every one asked for before it read the status.</summary>
    internal long Requested { get; set; }

    /// <summary>The newest request the bridge has taken a report for; a waiting request covered by it is not sent again.</summary>
    internal long Covered { get; set; }

    internal HttpStatusCode LastAnswer { get; set; } = HttpStatusCode.OK;
}

/// <summary>One update received by a front end, for tests and the status page.</summary>
public sealed record ReceivedUpdate(DateTimeOffset At, int FrontEnd, string UcUserId, string TeamsUserId, string Status, string Reason, long Sequence, bool Applied);

public sealed record UcSimulatorOptions
{
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>Ports of the front ends (0: pick free ones).</summary>
    public IReadOnlyList<int> FrontEndPorts { get; init; } = [0, 0];

    public int ControlPort { get; init; }

    /// <summary>The service's internal API (GraphConnectorURL) the back end reports to.</summary>
    public Uri? ServiceApi { get; init; }

    public string? ServiceApiKey { get; init; }

    /// <summary>
    /// Connections the back end keeps to the internal API at most, like a UC back end's connection pool; further reports
    /// wait for one (unbounded, a burst of reports opened thousands of TLS connections).
    /// </summary>
    public int BackEndConnections { get; init; } = 32;
}
