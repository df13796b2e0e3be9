using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Configuration;
using PresenceActors.Cluster;
using PresenceActors.Graph;
using PresenceActors.Persistence;
using PresenceActors.Presence;
using PresenceActors.UcFrontEnd;
using PresenceActors.Users;
using PresenceActors.Webhooks;

namespace PresenceActors.Host.Configuration;

/// <summary>
/// Turns configuration (the seed's application.properties keys, appsettings.json, environment variables) into
/// <see cref="PresenceServiceOptions"/>, with one message per problem that names the key. Secrets are never echoed.
/// </summary>
public static partial class PresenceConfiguration
{

    /// <summary>
    /// Reads one key named in the seed's dotted form: as the configuration holds it (properties files and environment
    /// variables give a:b:0:c), or as written (dotted keys of appsettings.json or an in-memory source).
    /// </summary>
    public static string? Get(IConfiguration configuration, string key)
    {
        var value = configuration[PathOf(key)] ?? configuration[key];
        return string.IsNullOrWhiteSpace(value) ? null : value.Trim();
    }

    /// <summary>A dotted key in the configuration's own form: azure.activedirectory.technical.users[0].username → azure:activedirectory:technical:users:0:username.</summary>
    public static string PathOf(string key) => key.Replace("].", ":").Replace('[', ':').Replace(']', ':').Replace('.', ':').TrimEnd(':');

    public static PresenceServiceOptions? Load(IConfiguration configuration, out List<string> problems)
    {
        var found = new List<string>();
        string? Required(string key, string hint)
        {
            var value = Get(configuration, key);
            if (value is null)
                found.Add($"{key} is missing: {hint}.");
            return value;
        }

        T Parse<T>(string key, T fallback, Func<string, T?> parse, string expected) where T : struct
        {
            var text = Get(configuration, key);
            if (text is null)
                return fallback;
            if (parse(text) is { } value)
                return value;
            found.Add($"{key} = '{text}' is not {expected}.");
            return fallback;
        }

        Uri? HttpsUrl(string key, string? text)
        {
            if (text is null)
                return null;
            if (Uri.TryCreate(text, UriKind.Absolute, out var uri) && uri.Scheme == Uri.UriSchemeHttps)
                return uri;
            found.Add($"{key} = '{text}' is not an https URL.");
            return null;
        }

        var tenantId = Required("azure.activedirectory.tenantId", "set the Entra ID tenant id (Azure portal → Entra ID → Overview)");
        var clientId = Required("azure.activedirectory.clientId", "set the application (client) id of the app registration");
        if (clientId is not null && !Guid.TryParse(clientId, out _))
            found.Add($"azure.activedirectory.clientId = '{clientId}' is not a GUID (the application id, e.g. 5f1c1b0e-…).");
        var clientSecret = Required("azure.activedirectory.clientSecret", "create a client secret under Certificates & secrets and put its value here");
        var receiver = HttpsUrl("webhook.receiver", Required("webhook.receiver", "set the public https URL Graph reaches, e.g. https://facade.example.com:8443/graph/listen"));
        var frontEndText = Required("webhook.listener.http.url", "set the UC front-end URL(s), e.g. https://fe1:8443/owc-servlets/user/graph/notifications");
        var frontEnds = frontEndText?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(u => HttpsUrl("webhook.listener.http.url", u)).OfType<Uri>().ToList() ?? [];
        var apiKey = Get(configuration, "presence.api.key");
        if (apiKey is { Length: < 16 })
            found.Add("presence.api.key is shorter than 16 characters: use a long random key.");
        else if (apiKey is null && !string.IsNullOrWhiteSpace(Get(configuration, "presence.cluster.seedNodes")))
            found.Add("presence.api.key is missing: in a cluster the UC back end's calls reach any node, so every node needs the same key (a long random string).");

        var (accounts, moreApplications) = (TechnicalAccounts(configuration, found), MoreApplications(configuration, clientId, found));

        // Extra certificates trusted per remote: one trusted for a UC front end must not vouch for Entra (where the
        // technical users' passwords go) or Graph. The catch-all key (simulators, the sandbox) adds to all three.
        List<X509Certificate2> Trust(string key)
        {
            var certificates = new List<X509Certificate2>();
            foreach (var file in (Get(configuration, key) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (!File.Exists(file))
                {
                    found.Add($"{key}: file '{file}' does not exist.");
                    continue;
                }

                try
                {
                    certificates.Add(X509CertificateLoader.LoadCertificateFromFile(file));
                }
                catch (CryptographicException)
                {
                    found.Add($"{key}: file '{file}' is not a certificate (PEM or DER).");
                }
                catch (Exception e) when (e is UnauthorizedAccessException or IOException)
                {
                    found.Add($"{key}: file '{file}' cannot be read ({e.GetType().Name}): check that the service's user may read it.");
                }
            }

            return certificates;
        }

        var trustedEverywhere = Trust("presence.tls.trustedCertificates");
        List<X509Certificate2> trustedEntra = [.. trustedEverywhere, .. Trust("presence.tls.trust.entra")];
        List<X509Certificate2> trustedGraph = [.. trustedEverywhere, .. Trust("presence.tls.trust.graph")];
        List<X509Certificate2> trustedFrontEnds = [.. trustedEverywhere, .. Trust("presence.tls.trust.frontEnds")];

        var dataFolder = Get(configuration, "presence.dataFolder") ?? "data";
        var tls = (Get(configuration, "presence.tls.minimumVersion") ?? "1.2") switch
        {
            "1.2" => System.Security.Authentication.SslProtocols.Tls12 | System.Security.Authentication.SslProtocols.Tls13,
            "1.3" => System.Security.Authentication.SslProtocols.Tls13,
            var other => Invalid(other),
        };
        System.Security.Authentication.SslProtocols Invalid(string value)
        {
            found.Add($"presence.tls.minimumVersion = '{value}' must be 1.2 or 1.3 (older versions are not offered).");
            return System.Security.Authentication.SslProtocols.Tls12 | System.Security.Authentication.SslProtocols.Tls13;
        }

        var jsonLogs = Parse("presence.logging.json", false, t => bool.TryParse(t, out var b) ? b : null, "true or false");
        X509Certificate2? Pfx(string key, string passwordKey, bool required)
        {
            var file = Get(configuration, key);
            if (file is null)
            {
                if (required)
                    found.Add($"{key} is missing: give the PFX file of the TLS certificate (publicly trusted: Graph checks it).");
                return null;
            }

            if (!File.Exists(file))
            {
                found.Add($"{key}: file '{file}' does not exist.");
                return null;
            }

            try
            {
                return X509CertificateLoader.LoadPkcs12FromFile(file, Get(configuration, passwordKey));
            }
            catch (CryptographicException e)
            {
                found.Add($"{key}: '{file}' cannot be read ({e.Message}); check {passwordKey}.");
                return null;
            }
            catch (Exception e) when (e is UnauthorizedAccessException or IOException)
            {
                found.Add($"{key}: '{file}' cannot be read ({e.GetType().Name}): check that the service's user may read it.");
                return null;
            }
        }

        var webhookCertificate = Pfx("presence.webhook.certificate", "presence.webhook.certificatePassword", required: false);
        var apiCertificate = Pfx("presence.api.certificate", "presence.api.certificatePassword", required: false) ?? webhookCertificate;

        // The plain values, bound and checked per section as the host checks them at start (BoundKeys).
        var bound = BoundKeys.Normalised(configuration);
        var session = BoundKeys.Bind("presence:session", bound, new SessionKeysValidation(), found);
        var clusterKeys = BoundKeys.Bind("presence:cluster", bound, new ClusterKeysValidation(), found);
        var ingressKeys = BoundKeys.Bind("presence:ingress", bound, new IngressKeysValidation(), found);
        var graphKeys = BoundKeys.Bind("presence:graph", bound, new GraphKeysValidation(), found);
        var trimInterval = BoundKeys.Bind("presence:persistence", bound, new PersistenceKeysValidation(), found).TrimInterval;
        var maxCall = BoundKeys.Bind("presence:uc", bound, new UcKeysValidation(), found).MaxCallLength;
        var callActivities = (Get(configuration, "presence.callActivities") ?? string.Join(',', PresenceMapping.SeedCallActivities))
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(TeamsActivity.Parse).ToList();
        foreach (var unknown in callActivities.Where(a => !a.IsDocumented))
            found.Add($"presence.callActivities: '{unknown}' is not a documented Teams activity.");

        var provider = Parse("presence.persistence.provider", PersistenceProvider.Sqlite,
            t => Enum.TryParse<PersistenceProvider>(t, true, out var p) ? p : null, "Sqlite or PostgreSql");
        var connection = Get(configuration, "presence.persistence.connectionString");
        if (provider == PersistenceProvider.PostgreSql && connection is null)
            found.Add("presence.persistence.connectionString is missing: PostgreSql needs an Npgsql connection string.");
        var seeds = (Get(configuration, "presence.cluster.seedNodes") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
        foreach (var seed in seeds.Where(s => !s.StartsWith("akka.tcp://presence@", StringComparison.Ordinal)))
            found.Add($"presence.cluster.seedNodes: '{seed}' must look like akka.tcp://presence@host:4053.");

        int Port(string key, int fallback) => Parse(key, fallback, t => int.TryParse(t, out var p) && p is > 0 and < 65536 ? p : null, "a port from 1 to 65535");
        var webhookPort = Port("presence.webhook.port", PresenceServiceOptions.DefaultWebhookPort);
        var apiPort = Port("presence.api.port", PresenceServiceOptions.DefaultApiPort);
        var adminPort = Port("presence.admin.port", PresenceServiceOptions.DefaultAdminPort);
        var adminAddress = IPAddress.Loopback;
        if (Get(configuration, "presence.admin.address") is { } adminText && !IPAddress.TryParse(adminText, out adminAddress))
        {
            found.Add($"presence.admin.address = '{adminText}' is not an IP address (127.0.0.1, 0.0.0.0, ::).");
            adminAddress = IPAddress.Loopback;
        }

        if (!IPAddress.IsLoopback(adminAddress) && Get(configuration, "presence.admin.token") is null)
            found.Add($"presence.admin.token is missing: the admin port listens on {adminAddress}, beyond loopback, where its actions need a token.");
        var remotingPort = Port("presence.cluster.port", new PresenceClusterOptions().Port);
        var publicPort = Get(configuration, "presence.cluster.publicPort") is null ? (int?)null : Port("presence.cluster.publicPort", remotingPort);
        Uri Url(string key, Uri fallback) => Get(configuration, key) is { } text ? HttpsUrl(key, text) ?? fallback : fallback;
        var authority = Url("presence.graph.authorityHost", GraphOptions.DefaultAuthorityHost);
        var graphBase = Url("presence.graph.baseUrl", GraphOptions.DefaultGraphBaseUrl);
        var openId = Url("presence.graph.openIdConfiguration", PresenceServiceOptions.DefaultOpenIdConfiguration);

        byte[]? clientStateKey = null;
        if (Get(configuration, "presence.clientState.key") is { } keyText)
        {
            try
            {
                clientStateKey = Convert.FromBase64String(keyText);
                if (clientStateKey.Length < 32)
                    found.Add("presence.clientState.key must decode to at least 32 bytes.");
            }
            catch (FormatException)
            {
                found.Add("presence.clientState.key is not base64.");
            }
        }
        else if (seeds.Count > 0)
        {
            found.Add("presence.clientState.key is missing: in a cluster every node needs the same key (32+ random bytes, base64).");
        }

        List<byte[]> KeyList(string listKey)
        {
            var keys = new List<byte[]>();
            var number = 0;
            foreach (var text in (Get(configuration, listKey) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                number++;
                var key = new byte[text.Length];
                // The value is a secret: a problem names its position in the list, never the text.
                if (!Convert.TryFromBase64String(text, key, out var length))
                    found.Add($"{listKey}: key {number} is not base64.");
                else if (length < 32)
                    found.Add($"{listKey}: key {number} decodes to fewer than 32 bytes.");
                else
                    keys.Add(key[..length]);
            }

            return keys;
        }

        var previousClientStateKeys = KeyList("presence.clientState.previousKeys");
        var nextClientStateKeys = KeyList("presence.clientState.nextKeys");

        var clientCertificates = (Get(configuration, "presence.api.clientCertificates") ?? "")
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(t => t.Replace(":", "").ToUpperInvariant()).ToList();
        foreach (var thumbprint in clientCertificates.Where(t => t.Length != 64 || !t.All(Uri.IsHexDigit)))
            found.Add($"presence.api.clientCertificates: '{thumbprint}' is not a SHA-256 thumbprint (64 hex digits).");
        var rateLimit = PresenceServiceOptions.DefaultWebhookRequestsPerSource;
        if (Get(configuration, "presence.webhook.rateLimitPerSecond") is { } rate && (!int.TryParse(rate, out rateLimit) || rateLimit < 0))
            found.Add($"presence.webhook.rateLimitPerSecond: '{rate}' is not a whole number of requests per second (0 turns the limit off).");
        var adminOpen = (Get(configuration, "presence.admin.open") ?? "")
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(o => o.ToLowerInvariant()).ToHashSet();
        foreach (var unknown in adminOpen.Where(o => !Admin.AdminAccess.OpenableEndpoints.Contains(o)))
            found.Add($"presence.admin.open: '{unknown}' is not one of {string.Join(", ", Admin.AdminAccess.OpenableEndpoints)}.");
        var trustedProxies = new List<IPNetwork>();
        foreach (var proxy in (Get(configuration, "presence.webhook.trustedProxies") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (IPNetwork.TryParse(proxy, out var network))
                trustedProxies.Add(network);
            else if (IPAddress.TryParse(proxy, out var address))
                trustedProxies.Add(new IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128));
            else
                found.Add($"presence.webhook.trustedProxies: '{proxy}' is not an IP address or network (10.0.0.5, 10.0.0.0/24, fd00::/64).");
        }

        problems = found;
        if (found.Count > 0)
            return null;

        // A data folder made here is the service user's alone (keys, certificates and the SQLite journal go in it); one
        // the operator made is left as it is.
        if (!Directory.Exists(dataFolder) && !OperatingSystem.IsWindows())
            Directory.CreateDirectory(dataFolder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        else
            Directory.CreateDirectory(dataFolder);
        // Files made once and kept (the seed's file names neither key): a damaged one is a problem naming its key and
        // path, not an unhandled exception.
        T? Kept<T>(string key, string path, Func<string, T> load) where T : class
        {
            try
            {
                return load(path);
            }
            catch (Exception e) when (e is FormatException or CryptographicException or IOException or UnauthorizedAccessException)
            {
                found.Add($"{key}: the file {Path.GetFullPath(path)} cannot be read ({e.GetType().Name}); restore it from a backup, or remove it to have a new one made.");
                return null;
            }
        }

        clientStateKey ??= Kept("presence.clientState.key", Path.Combine(dataFolder, "client-state.key"), LoadOrCreateKey);
        apiKey ??= Kept("presence.api.key", Path.Combine(dataFolder, "internal-api.key"), p => Convert.ToBase64String(LoadOrCreateKey(p)));
        webhookCertificate ??= Kept("presence.webhook.certificate", Path.Combine(dataFolder, "listener-tls.pfx"), p => EncryptionCertificates.LoadOrCreate(p));
        apiCertificate ??= webhookCertificate;
        // With PostgreSQL and no file named, the cluster's certificates come from the database (loaded when the node starts).
        var encryptionPath = Get(configuration, "presence.encryption.certificate")
                             ?? (provider == PersistenceProvider.PostgreSql ? null : Path.Combine(dataFolder, "encryption.pfx"));
        var encryption = encryptionPath is null ? null : Kept("presence.encryption.certificate", encryptionPath,
            p => EncryptionCertificates.LoadOrCreate(p, Get(configuration, "presence.encryption.certificatePassword")));
        if (found.Count > 0)
            return null;
        // An upgraded node's own file (data/encryption.pfx) becomes the store's first certificate, so that subscriptions
        // made with it still decrypt.
        var encryptionStore = encryptionPath is null
            ? new EncryptionCertificateStore(connection!, clientStateKey!, previousKeys: previousClientStateKeys, nextKeys: nextClientStateKeys, importFile: Path.Combine(dataFolder, "encryption.pfx"),
                importPassword: Get(configuration, "presence.encryption.certificatePassword"))
            : null;
        var previousEncryption = new List<X509Certificate2>();
        foreach (var file in (Get(configuration, "presence.encryption.previousCertificates") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (Kept("presence.encryption.previousCertificates", file,
                    p => File.Exists(p) ? X509CertificateLoader.LoadPkcs12FromFile(p, Get(configuration, "presence.encryption.certificatePassword"), X509KeyStorageFlags.Exportable)
                        : throw new IOException("no such file")) is { } previous)
                previousEncryption.Add(previous);
        }

        if (found.Count > 0)
            return null;
        var warnings = new[]
            {
                encryptionPath, Path.Combine(dataFolder, "client-state.key"), Path.Combine(dataFolder, "internal-api.key"), Path.Combine(dataFolder, "listener-tls.pfx"),
                Get(configuration, "presence.webhook.certificate"), Get(configuration, "presence.api.certificate"),
            }
            .OfType<string>().Distinct().Select(EncryptionCertificates.ExposureOf).OfType<string>().ToList();
        var cluster = new PresenceClusterOptions
        {
            Hostname = Get(configuration, "presence.cluster.hostname") ?? "127.0.0.1",
            PublicHostname = Get(configuration, "presence.cluster.publicHostname"),
            Port = remotingPort,
            PublicPort = publicPort,
            SeedNodes = seeds,
            UpWithin = clusterKeys.UpWithin,
            HeartbeatPause = clusterKeys.HeartbeatPause,
            StableAfter = clusterKeys.StableAfter,
            DownRemovalMargin = clusterKeys.DownRemovalMargin,
        };
        var self = $"akka.tcp://presence@{cluster.Advertised}";
        if (seeds.Count > 0 && !seeds.Contains(self, StringComparer.OrdinalIgnoreCase))
        {
            // Akka counts members, not seed nodes: with a list shorter than the cluster, a self-joined first seed node and
            // another node started with it would be a majority of the list, and a second cluster could start beside the first.
            warnings.Add($"presence.cluster.seedNodes does not list this node ({self}): list every Facade node, the same list on each. " +
                         $"A cluster starts once {PresenceActors.Cluster.ClusterSetup.MajorityOf(seeds.Count)} members are together (a majority of the list), " +
                         "which keeps a second cluster from starting only when the list holds every node.");
        }

        return new PresenceServiceOptions
        {
            Node = new PresenceNodeOptions
            {
                Cluster = cluster,
                Persistence = new PresencePersistenceOptions
                {
                    Provider = provider, ConnectionString = connection ?? Path.Combine(dataFolder, "presence.db"), TrimInterval = trimInterval,
                },
                Users = new UserPresenceOptions
                {
                    Rules = PresenceSettings.Default with { SessionTtl = session.Ttl, SessionRefresh = session.Refresh, LongestSessionTtl = session.MaxTtl, Mapping = PresenceMapping.SeedWith(callActivities), MaxUcCallLength = maxCall },
                },
            },
            Graph = new GraphOptions
            {
                TenantId = tenantId!, ClientId = clientId!, ClientSecret = clientSecret!, AuthorityHost = authority, GraphBaseUrl = graphBase,
                MoreApplications = moreApplications, TechnicalAccounts = accounts, TrustedCertificates = trustedGraph, EntraTrustedCertificates = trustedEntra, MaxConnections = graphKeys.MaxConnections,
                PresenceBudget = graphKeys.PresenceBudget, SessionTtlWhenTight = session.MaxTtl,
            },
            FrontEnds = new UcFrontEndOptions { Urls = frontEnds, TrustedCertificates = trustedFrontEnds },
            WebhookReceiver = receiver!,
            Webhook = new ListenerOptions { Address = IPAddress.Any, Port = webhookPort, Certificate = webhookCertificate },
            InternalApi = new ListenerOptions { Address = IPAddress.Any, Port = apiPort, Certificate = apiCertificate },
            Admin = new ListenerOptions { Address = adminAddress, Port = adminPort, Certificate = IPAddress.IsLoopback(adminAddress) ? null : webhookCertificate },
            InternalApiKey = apiKey!,
            AdminToken = Get(configuration, "presence.admin.token"),
            AdminOpen = adminOpen,
            WebhookTrustedProxies = trustedProxies,
            TlsVersions = tls,
            JsonLogs = jsonLogs,
            ClientStateKey = clientStateKey!, PreviousClientStateKeys = previousClientStateKeys, NextClientStateKeys = nextClientStateKeys,
            EncryptionCertificate = encryption,
            EncryptionStore = encryptionStore,
            PreviousEncryptionCertificates = previousEncryption,
            OpenIdConfiguration = openId,
            InternalApiClientCertificates = clientCertificates,
            WebhookRequestsPerSource = rateLimit,
            Ingress = new PresenceActors.Ingress.IngressOptions { MaxBacklog = ingressKeys.MaxBacklog, AppendTimeout = ingressKeys.CommitTimeout, Lease = ingressKeys.Lease },
            Warnings = warnings,
        };
    }
}
