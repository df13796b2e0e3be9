using System.Net;
using System.Security.Cryptography.X509Certificates;
using PresenceActors.Graph;
using PresenceActors.UcFrontEnd;

namespace PresenceActors.Host;

/// <summary>One HTTPS listener: where it binds and the certificate it presents.</summary>
public sealed record ListenerOptions
{
    public IPAddress Address { get; init; } = IPAddress.Loopback;

    /// <summary>0 picks a free port (tests).</summary>
    public int Port { get; init; }

    /// <summary>The TLS certificate; null serves plain HTTP (only for the loopback admin endpoint).</summary>
    public X509Certificate2? Certificate { get; init; }
}

/// <summary>Everything a node of the service is configured with (docs/operator-guide.md, "Configuration keys"), already parsed and checked.</summary>
public sealed record PresenceServiceOptions
{
    public PresenceNodeOptions Node { get; init; } = new();

    public required GraphOptions Graph { get; init; }

    public required UcFrontEndOptions FrontEnds { get; init; }

    /// <summary>The public URL Graph posts to (webhook.receiver, ending in /graph/listen).</summary>
    public required Uri WebhookReceiver { get; init; }

    public required ListenerOptions Webhook { get; init; }

    public required ListenerOptions InternalApi { get; init; }

    public ListenerOptions Admin { get; init; } = new() { Port = DefaultAdminPort };

    // The defaults of the keys, written here once: the configuration and its key table read them.
    public const int DefaultWebhookPort = 8443;
    public const int DefaultApiPort = 10443;
    public const int DefaultAdminPort = 9110;
    public const int DefaultWebhookRequestsPerSource = 5_000;
    public static readonly Uri DefaultOpenIdConfiguration = new("https://login.microsoftonline.com/common/.well-known/openid-configuration");

    /// <summary>Structured JSON lines on the console instead of plain text.</summary>
    public bool JsonLogs { get; init; }

    /// <summary>TLS versions the listeners accept: 1.2 and 1.3, or 1.3 only.</summary>
    public System.Security.Authentication.SslProtocols TlsVersions { get; init; } =
        System.Security.Authentication.SslProtocols.Tls12 | System.Security.Authentication.SslProtocols.Tls13;

    /// <summary>Bearer token the CLI sends to the admin endpoint; null: loopback alone protects it.</summary>
    public string? AdminToken { get; init; }

    /// <summary>Which of "metrics" and "health" the admin port serves without the token (presence.admin.open).</summary>
    public IReadOnlySet<string> AdminOpen { get; init; } = new HashSet<string>();

    /// <summary>Proxies (HAProxy) whose X-Forwarded-For the webhook believes for its per-source limit (presence.webhook.trustedProxies).</summary>
    public IReadOnlyList<System.Net.IPNetwork> WebhookTrustedProxies { get; init; } = [];

    /// <summary>Bearer key the UC back end sends to the internal API.</summary>
    public required string InternalApiKey { get; init; }

    /// <summary>Cluster-wide key of the clientState HMAC (at least 32 bytes).</summary>
    public required byte[] ClientStateKey { get; init; }

    /// <summary>Keys replaced in <see cref="ClientStateKey"/>, still accepted while subscriptions made with them live (presence.clientState.previousKeys).</summary>
    public IReadOnlyList<byte[]> PreviousClientStateKeys { get; init; } = [];

    /// <summary>Keys about to become <see cref="ClientStateKey"/>, already accepted (presence.clientState.nextKeys).</summary>
    public IReadOnlyList<byte[]> NextClientStateKeys { get; init; } = [];

    /// <summary>The notification encryption certificate from a file (presence.encryption.certificate, or the data folder's); null with <see cref="EncryptionStore"/>.</summary>
    public X509Certificate2? EncryptionCertificate { get; init; }

    public IReadOnlyList<X509Certificate2> PreviousEncryptionCertificates { get; init; } = [];

    /// <summary>
    /// The cluster's store of notification encryption certificates (PostgreSQL, presence.encryption.certificate unset):
    /// every node uses the same ones, and they can be rotated. Null: <see cref="EncryptionCertificate"/>.
    /// </summary>
    public PresenceActors.Webhooks.IEncryptionCertificateStore? EncryptionStore { get; init; }

    /// <summary>Where validationTokens' signing keys are published.</summary>
    public Uri OpenIdConfiguration { get; init; } = DefaultOpenIdConfiguration;

    /// <summary>Largest notification POST accepted (Graph batches stay far below).</summary>
    public long MaxWebhookBodyBytes { get; init; } = 1024 * 1024;

    public TimeSpan SubscriptionLifetime { get; init; } = TimeSpan.FromMinutes(55);

    public TimeSpan RenewBefore { get; init; } = TimeSpan.FromMinutes(15);

    public TimeSpan MembershipDebounce { get; init; } = TimeSpan.FromSeconds(2);

    public TimeSpan ReconcileEvery { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>SHA-256 thumbprints of the client certificates the internal API accepts; empty: the bearer key alone.</summary>
    public IReadOnlyList<string> InternalApiClientCertificates { get; init; } = [];

    /// <summary>Requests per source address and window the public webhook takes before answering 429 (0: no limit).</summary>
    public int WebhookRequestsPerSource { get; init; } = DefaultWebhookRequestsPerSource;

    public TimeSpan WebhookRateWindow { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long the internal API waits for a user's actor to journal a UC report before answering 503.</summary>
    public PresenceActors.Webhooks.WebhookFlowOptions WebhookFlow { get; init; } = new();

    /// <summary>The webhook's ingress log: its backlog bound, commit timeout, retries and, in a cluster, the lease.</summary>
    public PresenceActors.Ingress.IngressOptions Ingress { get; init; } = new();

    /// <summary>What the configuration left unsafe but working (e.g. a private key file readable by others).</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    public Uri LifecycleUrl => new(WebhookReceiver, "lifecycle");
}
