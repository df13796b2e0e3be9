using System.Security.Cryptography.X509Certificates;

namespace PresenceActors.Simulators.Graph;

/// <summary>An app registration: client id, secrets with expiry, and whether ROPC ("public client flows") is allowed.</summary>
public sealed class SimApplication
{
    public required string ClientId { get; init; }

    public string DisplayName { get; init; } = "UCPresenceApp";

    public List<SimSecret> Secrets { get; } = [];

    public bool AllowPublicClientFlows { get; set; } = true;

    public bool AdminConsented { get; set; } = true;

    /// <summary>An AADSTS code every token request of this app fails with (injected), or null.</summary>
    public int? InjectedError { get; set; }
}

public sealed record SimSecret(string Value, DateTimeOffset ExpiresAt);

public enum TeamsClientState
{
    /// <summary>No Teams client signed in.</summary>
    Offline,
    Available,
    InACall,
    InAConferenceCall,

    /// <summary>Sharing their screen in a Teams meeting: Teams shows DoNotDisturb/Presenting.</summary>
    Presenting,
}

public sealed record SimPresenceState(string Availability, string Activity, DateTimeOffset? ExpiresAt);

/// <summary>A directory user with the presence sessions Graph aggregates (docs/graph-api.md, section 2).</summary>
public sealed class SimUser
{
    public required string Id { get; init; }

    public required string UserPrincipalName { get; init; }

    public string? Mail { get; init; }

    public string DisplayName { get; init; } = "";

    public string? Password { get; set; }

    /// <summary>A technical user that owns presence subscriptions (delegated tokens through ROPC).</summary>
    public bool Technical { get; init; }

    /// <summary>An AADSTS code every password grant of this user fails with (injected), or null.</summary>
    public int? InjectedError { get; set; }

    public TeamsClientState Client { get; set; } = TeamsClientState.Available;

    public bool InMeeting { get; set; }

    public SimPresenceState? Preferred { get; set; }

    /// <summary>App sessions by session id (= the calling application's id).</summary>
    public Dictionary<string, SimPresenceState> Sessions { get; } = [];

    public string ShownAvailability { get; set; } = "Offline";

    public string ShownActivity { get; set; } = "Offline";

    public long Sequence { get; set; }

    public string SequenceNumber => Sequence.ToString("D20");
}

/// <summary>A change-notification subscription as Graph keeps it.</summary>
public sealed class SimSubscription
{
    public required string Id { get; init; }

    public required string ApplicationId { get; init; }

    public required string CreatorId { get; init; }

    public required string Resource { get; init; }

    public required IReadOnlySet<string> UserIds { get; init; }

    public string ChangeType { get; init; } = "updated";

    public required string NotificationUrl { get; init; }

    public string? LifecycleNotificationUrl { get; init; }

    public DateTimeOffset ExpirationDateTime { get; set; }

    public string? ClientState { get; init; }

    public bool IncludeResourceData { get; init; }

    public X509Certificate2? EncryptionCertificate { get; set; }

    public string? EncryptionCertificateId { get; set; }

    public string LatestSupportedTlsVersion { get; init; } = "v1_2";

    public DateTimeOffset CreatedAt { get; init; }
}

/// <summary>One request the simulator received, for the call log.</summary>
/// <param name="ClientRequestId">The SDK's client-request-id header: the same on every retry of one request.</param>
public sealed record SimCall(DateTimeOffset At, string Method, string Path, string Api, string Caller, int Status, double? RetryAfterSeconds, string? ClientRequestId = null);

/// <summary>An injected failure: matching requests are answered with <see cref="Status"/> (and Retry-After), or delayed.</summary>
public sealed record SimFault
{
    /// <summary>API name (e.g. "presence.set", "subscriptions.create", "token") or a prefix ending in '*'.</summary>
    public required string Api { get; init; }

    public int Status { get; init; } = 503;

    public double? RetryAfterSeconds { get; init; }

    /// <summary>How many matching requests fail; null for all of them.</summary>
    public int? Count { get; set; }

    /// <summary>Share of matching requests that fail (0..1).</summary>
    public double Rate { get; init; } = 1.0;

    public int LatencyMs { get; init; }

    public bool Matches(string api) =>
        Api == "*" || Api == api || (Api.EndsWith('*') && api.StartsWith(Api[..^1], StringComparison.Ordinal));
}

/// <summary>How notification delivery misbehaves on purpose.</summary>
public sealed record SimDeliveryFaults
{
    public double DropRate { get; init; }

    public double DuplicateRate { get; init; }

    public double ReorderRate { get; init; }

    public int LatencyMs { get; init; }
}
