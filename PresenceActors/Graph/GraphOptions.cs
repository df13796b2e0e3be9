using System.Security.Cryptography.X509Certificates;

namespace PresenceActors.Graph;

/// <summary>A technical user: owns one presence subscription for up to 650 users (Graph allows one per user and app).</summary>
public sealed record TechnicalAccountCredentials(string Username, string Password)
{
    public override string ToString() => Username; // never the password
}

/// <summary>
/// An Entra application (app registration) the service writes and reads presence with. Each has its own presence budget
/// and its own session id (its client id), and each technical user holds one presence subscription per application
/// (docs/graph-budget.md, "Several applications").
/// </summary>
public sealed record GraphApplication(string ClientId, string ClientSecret)
{
    public override string ToString() => ClientId; // never the secret
}

/// <summary>How the service reaches Microsoft Graph and Entra ID (seed keys azure.activedirectory.*).</summary>
public sealed record GraphOptions
{
    public string TenantId { get; init; } = "";

    public string ClientId { get; init; } = "";

    public string ClientSecret { get; init; } = "";

    /// <summary>Applications beyond the seed's (azure.activedirectory.applications[N]); users are spread over all of them.</summary>
    public IReadOnlyList<GraphApplication> MoreApplications { get; init; } = [];

    /// <summary>Every application: the seed's keys first, then <see cref="MoreApplications"/>.</summary>
    public IReadOnlyList<GraphApplication> Applications => [new GraphApplication(ClientId, ClientSecret), .. MoreApplications];

    public Uri AuthorityHost { get; init; } = DefaultAuthorityHost;

    public Uri GraphBaseUrl { get; init; } = DefaultGraphBaseUrl;

    public IReadOnlyList<TechnicalAccountCredentials> TechnicalAccounts { get; init; } = [];

    /// <summary>Extra certificates trusted for Graph's TLS (a simulator's self-signed one); empty in production.</summary>
    public IReadOnlyList<X509Certificate2> TrustedCertificates { get; init; } = [];

    /// <summary>Extra certificates trusted for Entra ID's TLS (sign-ins, OpenID metadata): kept apart from Graph's and the front ends'.</summary>
    public IReadOnlyList<X509Certificate2> EntraTrustedCertificates { get; init; } = [];

    /// <summary>Timeout of presence reads and writes.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Subscription calls can take 20 to 60 s at Graph, so they get more.</summary>
    public TimeSpan SubscriptionTimeout { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>How many times the SDK's retry handler retries 429/503/504 (honouring Retry-After).</summary>
    public int MaxRetries { get; init; } = 5;

    /// <summary>
    /// Connections open to Graph at once per client (the application's, each technical user's); further calls wait for
    /// one. Unbounded, a burst of presence writes opened a TLS connection per call, and the handshakes took the CPU the
    /// calls needed (thousands of connections, then out of memory, at 500 UC calls/s).
    /// </summary>
    public int MaxConnections { get; init; } = DefaultMaxConnections;

    /// <summary>Graph's presence limit for one application in one tenant: 1,500 requests per 30 s.</summary>
    public const int DefaultPresenceBudget = 1500;

    // The defaults of the keys (presence.graph.*), written here once: the configuration and its key table read them.
    public const int DefaultMaxConnections = 64;
    public static readonly Uri DefaultAuthorityHost = new("https://login.microsoftonline.com/");
    public static readonly Uri DefaultGraphBaseUrl = new("https://graph.microsoft.com/v1.0/");

    /// <summary>Presence requests (writes and reads) each application may make per 30 s; metrics show the share in use.</summary>
    public int PresenceBudget { get; init; } = DefaultPresenceBudget;

    /// <summary>Graph's window for the presence budget (30 s); shorter only in tests that shorten the simulator's too.</summary>
    public TimeSpan PresenceBudgetWindow { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The expirationDuration our session is asked for while the presence budget is tight (presence.session.maxTtl):
    /// fewer keep-alives, at the price of a session that outlives a crashed service longer.
    /// </summary>
    public TimeSpan SessionTtlWhenTight { get; init; } = Users.PresenceSettings.Default.LongestSessionTtl;

    /// <summary>How long a resolved Teams user stays cached.</summary>
    public TimeSpan UserCacheLifetime { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>Look-ups remembered at most (two entries per user found: as asked, and by object id).</summary>
    public int UserCacheEntries { get; init; } = 100_000;

    public Uri GraphHost => new(GraphBaseUrl.GetLeftPart(UriPartial.Authority));
}
