using Microsoft.Extensions.Configuration;
using PresenceActors.Graph;
using PresenceActors.Users;

namespace PresenceActors.Host.Configuration;

public static partial class PresenceConfiguration
{
    // The defaults are the option types' own (written there once); these hold them for the key table, declared before it
    // because static initializers run in textual order within a file.
    private static readonly PresenceActors.Cluster.PresenceClusterOptions Cluster = new();
    private static readonly PresenceActors.Ingress.IngressOptions Ingress = new();
    private static readonly PresenceActors.Users.PresenceSettings Rules = PresenceActors.Users.PresenceSettings.Default;

    /// <summary>A duration as the operator writes it: 00:05:00, or 00:00:00.900 with milliseconds.</summary>
    private static string Shown(TimeSpan duration) => duration.ToString(duration.Milliseconds == 0 ? @"hh\:mm\:ss" : @"hh\:mm\:ss\.fff", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Every key read, with its default; the operator guide lists the same (a test keeps them in step).</summary>
    public static readonly IReadOnlyList<(string Key, string Default, bool Secret, string Meaning)> Keys =
    [
        ("azure.activedirectory.tenantId", "(required)", false, "Entra ID tenant id"),
        ("azure.activedirectory.clientId", "(required)", false, "application (client) id; also our setPresence session id"),
        ("azure.activedirectory.clientSecret", "(required)", true, "application client secret (its value, not its id)"),
        ("azure.activedirectory.applications[N].clientId", "", false, "more applications, N = 0, 1, …: each adds a presence budget and a subscription per technical user"),
        ("azure.activedirectory.applications[N].clientSecret", "", true, "their client secrets"),
        ("azure.activedirectory.technical.user.username", "", false, "first technical user (owns a presence subscription for up to 650 users)"),
        ("azure.activedirectory.technical.user.password", "", true, "its password"),
        ("azure.activedirectory.technical.users[N].username", "", false, "more technical users, N = 0, 1, 2, …"),
        ("azure.activedirectory.technical.users[N].password", "", true, "their passwords"),
        ("webhook.receiver", "(required)", false, "public https URL Graph posts notifications to, ending in /graph/listen"),
        ("webhook.listener.http.url", "(required)", false, "UC front-end URL(s), comma-separated, tried in order"),
        ("presence.api.key", "data/internal-api.key (made once; required with seed nodes)", true, "bearer key the UC back end sends to the internal API; the same on every node"),
        ("presence.graph.authorityHost", $"{GraphOptions.DefaultAuthorityHost}", false, "Entra ID authority host"),
        ("presence.graph.baseUrl", $"{GraphOptions.DefaultGraphBaseUrl}", false, "Microsoft Graph base URL"),
        ("presence.graph.openIdConfiguration", $"{PresenceServiceOptions.DefaultOpenIdConfiguration}", false, "where validationTokens' keys are published"),
        ("presence.graph.maxConnections", $"{GraphOptions.DefaultMaxConnections}", false, "connections open to Graph at once per signed-in identity; more calls wait for one"),
        ("presence.graph.presenceBudget", $"{GraphOptions.DefaultPresenceBudget}", false, "presence requests (setPresence, clearPresence, reads) the application may make per 30 s (Graph's presence limit); metrics and dashboards show the share in use"),
        ("presence.tls.trustedCertificates", "", false, "extra PEM files trusted for Graph, Entra and the UC front ends alike (simulators only; prefer the per-remote keys)"),
        ("presence.tls.trust.entra", "", false, "extra PEM files trusted for Entra ID sign-ins and its OpenID metadata only"),
        ("presence.tls.trust.graph", "", false, "extra PEM files trusted for Microsoft Graph only"),
        ("presence.tls.trust.frontEnds", "", false, "extra PEM files trusted for the UC front ends only (their own CA or self-signed certificate)"),
        ("presence.webhook.port", $"{PresenceServiceOptions.DefaultWebhookPort}", false, "public webhook port"),
        ("presence.webhook.certificate", "data/listener-tls.pfx (self-signed, made once)", false, "PFX file of the webhook's TLS certificate (behind HAProxy, which presents the public one)"),
        ("presence.webhook.certificatePassword", "", true, "its password"),
        ("presence.api.port", $"{PresenceServiceOptions.DefaultApiPort}", false, "internal API port (GraphConnectorURL)"),
        ("presence.api.certificate", "the webhook certificate", false, "PFX file of the internal API's TLS certificate"),
        ("presence.api.certificatePassword", "", true, "its password"),
        ("presence.admin.port", $"{PresenceServiceOptions.DefaultAdminPort}", false, "admin and health port"),
        ("presence.admin.address", "127.0.0.1", false, "address the admin port listens on; beyond loopback it needs presence.admin.token and serves TLS with the webhook's certificate, and other addresses reach only /metrics and /healthz (status page and admin actions stay loopback-only)"),
        ("presence.admin.token", "", true, "bearer token the CLI must send to the admin endpoint (ctl --token); the status page asks for it once and then keeps a session"),
        ("presence.admin.open", "", false, "which of metrics and health (comma-separated) the admin port serves without presence.admin.token; empty: with a token set, /metrics and /healthz need it too"),
        ("presence.encryption.certificate", "PostgreSQL: the cluster's, made once and kept in the database; SQLite: data/encryption.pfx (made once)", false, "PFX file notifications are encrypted for; unset with PostgreSQL, every node shares the certificates kept (sealed) in the database and ctl certificate rotate replaces them"),
        ("presence.encryption.previousCertificates", "", false, "PFX files (comma-separated) of certificates replaced in presence.encryption.certificate, still accepted while Graph may deliver what it encrypted for them"),
        ("presence.encryption.certificatePassword", "", true, "password of that PFX file (a file made by the service is protected with it too)"),
        ("presence.clientState.key", "data/client-state.key (made once)", true, "base64 key (32+ bytes) of the clientState HMAC; the same on every node"),
        ("presence.clientState.nextKeys", "", true, "base64 keys (comma-separated) about to become presence.clientState.key: accepted already, not yet used; see Rotating the clientState key"),
        ("presence.clientState.previousKeys", "", true, "base64 keys (comma-separated) replaced in presence.clientState.key: still accepted (and still opening the certificates sealed with them) until removed, and every subscription signed with one is re-created; see Rotating the clientState key"),
        ("presence.persistence.provider", "Sqlite", false, "Sqlite or PostgreSql"),
        ("presence.persistence.connectionString", "data/presence.db", true, "SQLite file or Npgsql connection string (PostgreSQL: up to 56 connections per node, the journal 20 of them unless it sets Maximum Pool Size)"),
        ("presence.persistence.trimInterval", Shown(PresenceActors.Persistence.PresencePersistenceOptions.DefaultTrimInterval), false, "how often a round removes the users' journal events that their snapshots (at least 5 minutes old) hold, in bulk: one node at a time on PostgreSQL, on one of the journal's connections; see docs/decisions.md, Trimming the journal in bulk"),
        ("presence.cluster.hostname", "127.0.0.1", false, "address Akka remoting binds to"),
        ("presence.cluster.publicHostname", "the hostname", false, "address other nodes reach this one at"),
        ("presence.cluster.port", $"{Cluster.Port}", false, "Akka remoting port"),
        ("presence.cluster.publicPort", "the port", false, "port other nodes reach this one at, when it differs from the one it listens on (a container's published port, a relay)"),
        ("presence.cluster.seedNodes", "", false, "akka.tcp://presence@host:4053, comma-separated, the same list in the same order on every node; list every Facade node (a cluster needs a majority of this list's length as members before any is Up, so no two clusters can both start); empty: a single node"),
        ("presence.cluster.heartbeatPause", Shown(Cluster.HeartbeatPause), false, "how long a node's heartbeats may stay away before the others take it as unreachable (Akka's acceptable-heartbeat-pause); longer survives longer pauses, shorter fails over sooner"),
        ("presence.cluster.stableAfter", Shown(Cluster.StableAfter), false, "how long membership must stay unchanged before the split-brain resolver downs the unreachable side (keep-majority)"),
        ("presence.cluster.downRemovalMargin", Shown(Cluster.DownRemovalMargin), false, "how long after a node is removed its singletons and shards start elsewhere (time for a downed node to stop)"),
        ("presence.cluster.upWithin", Shown(Cluster.UpWithin), false, "with seed nodes: a node not Up this long after it started (fewer members with it than a majority of the seed list) shuts down for its supervisor to start it again"),
        ("presence.ingress.maxBacklog", $"{Ingress.MaxBacklog}", false, "notification items a node holds unprocessed at most; beyond it the webhook answers 503 with Retry-After at once"),
        ("presence.ingress.commitTimeout", Shown(Ingress.AppendTimeout), false, "how long a webhook request waits for the ingress log's commit before it is answered 503 (keep it well under Graph's 2.9 s)"),
        ("presence.ingress.lease", Shown(Ingress.Lease), false, "with PostgreSQL: how long a node's hold on its ingress entries lasts unless renewed (every second); a dead node's entries are taken over after it"),
        ("presence.session.ttl", Shown(Rules.SessionTtl), false, "setPresence expirationDuration (5 min to 4 h)"),
        ("presence.session.refresh", Shown(Rules.SessionRefresh), false, "keep-alive interval of our session during a UC call"),
        ("presence.session.maxTtl", Shown(Rules.LongestSessionTtl), false, "setPresence expirationDuration while the presence budget is tight: fewer keep-alives (at least presence.session.ttl, at most 4 h)"),
        ("presence.callActivities", string.Join(",", PresenceMapping.SeedCallActivities), false, "Teams activities that count as a call"),
        ("presence.uc.maxCallLength", Shown(Rules.MaxUcCallLength), false, "a UC call the UC back end has not reported ended after this long is taken as ended and the user's Teams session cleared (its end report lost, its node down)"),
        ("presence.dataFolder", "data", false, "where generated keys, certificates and the SQLite file live"),
        ("presence.tls.minimumVersion", "1.2", false, "lowest TLS version the listeners accept: 1.2 or 1.3"),
        ("presence.logging.json", "false", false, "structured JSON lines on the console"),
        ("presence.api.clientCertificates", "", false, "SHA-256 thumbprints (hex, comma-separated) of client certificates the internal API requires; empty: the key alone"),
        ("presence.webhook.rateLimitPerSecond", $"{PresenceServiceOptions.DefaultWebhookRequestsPerSource}", false, "requests per second one source address may send to the webhook before 429 (0: off)"),
        ("presence.webhook.trustedProxies", "", false, "addresses or networks (comma-separated) of the proxies in front of the webhook (HAProxy) whose X-Forwarded-For names the source address for the rate limit; empty: the connection's own address"),
    ];

    // In this file, after Keys: static initializers run in textual order only within one file.
    public static IReadOnlySet<string> SecretKeys { get; } =
        Keys.Where(k => k.Secret).Select(k => k.Key).ToHashSet(StringComparer.OrdinalIgnoreCase);

    /// <summary>The effective configuration with every secret replaced, for `config show`.</summary>
    public static IReadOnlyList<(string Key, string Value)> Show(IConfiguration configuration)
    {
        var shown = new List<(string, string)>();
        foreach (var (key, fallback, secret, _) in Keys)
        {
            if (key.Contains("[N]"))
            {
                for (var n = 0; ; n++)
                {
                    var concrete = key.Replace("[N]", $"[{n}]");
                    var value = Get(configuration, concrete);
                    if (value is null && n > 0)
                        break;
                    if (value is not null)
                        shown.Add((concrete, secret ? "********" : value));
                }

                continue;
            }

            var current = Get(configuration, key);
            shown.Add((key, current is null ? $"(default) {fallback}" : secret ? "********" : current));
        }

        return shown;
    }
}
