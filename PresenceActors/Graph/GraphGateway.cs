using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Identity;
using Microsoft.Graph;
using Microsoft.Graph.Communications.GetPresencesByUserId;
using Microsoft.Graph.Models;
using Microsoft.Graph.Models.ODataErrors;
using Microsoft.Graph.Users.Item.Presence.ClearPresence;
using Microsoft.Graph.Users.Item.Presence.SetPresence;
using Microsoft.Kiota.Authentication.Azure;
using Microsoft.Kiota.Http.HttpClientLibrary.Middleware.Options;
using PresenceActors.Presence;
using PresenceActors.Users;

namespace PresenceActors.Graph;

/// <summary>A directory user the service can watch.</summary>
public sealed record DirectoryUser(string Id, string UserPrincipalName, string? Mail, string? DisplayName);

/// <summary>A presence read from Graph (GET or getPresencesByUserId).</summary>
public sealed record ObservedPresence(string UserId, string Availability, string Activity, string? SequenceNumber);

public sealed record SubscriptionInfo(string Id, DateTimeOffset ExpiresAt, string Resource);

/// <summary>What a presence subscription is created with.</summary>
public sealed record SubscriptionRequest(
    Uri NotificationUrl,
    Uri LifecycleNotificationUrl,
    string ClientState,
    X509Certificate2 EncryptionCertificate,
    string EncryptionCertificateId,
    DateTimeOffset Expiration);

/// <summary>A technical user cannot get a token; <see cref="Explanation"/> says why and what to do.</summary>
public sealed class TechnicalAccountException(string account, int? aadsts, string explanation, Exception inner)
    : Exception($"Technical user {account} cannot sign in: {explanation}", inner)
{
    public string Account { get; } = account;

    public int? Aadsts { get; } = aadsts;

    public string Explanation { get; } = explanation;
}

/// <summary>Graph answered 404 for a subscription: it no longer exists and must be re-created.</summary>
public sealed class SubscriptionGoneException(string subscriptionId) : Exception($"Subscription {subscriptionId} no longer exists at Graph.");

/// <summary>Looks up Teams users by object id, UPN or mail.</summary>
public interface IUserDirectory
{
    Task<DirectoryUser?> ResolveAsync(string idUpnOrMail, CancellationToken cancellationToken);

    /// <summary>
    /// Many users at once, each by object id, user principal name or mail; a key missing from the answer names no user.
    /// Graph's gateway reads them in bulk (docs/graph-api.md, section 9); this default asks one by one.
    /// </summary>
    async Task<IReadOnlyDictionary<string, DirectoryUser>> ResolveManyAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken)
    {
        var found = new Dictionary<string, DirectoryUser>(StringComparer.OrdinalIgnoreCase);
        foreach (var key in keys)
        {
            if (await ResolveAsync(key, cancellationToken) is { } user)
                found[key] = user;
        }

        return found;
    }
}

/// <summary>The Graph calls the subscription pool makes: subscriptions per technical user, bulk presence reads.</summary>
public interface ISubscriptionGraph
{
    void RegisterAccount(TechnicalAccountCredentials credentials);

    bool HasCredentials(string account);

    /// <summary>A technical user's places in the pool: one subscription per application (<see cref="SubscriptionSlots"/>).</summary>
    IReadOnlyList<string> SlotsOf(string username);

    /// <summary>Adds an application; returns the new places of the technical users (empty when it was known).</summary>
    IReadOnlyList<string> AddApplication(GraphApplication application);

    Task<SubscriptionInfo> CreateSubscriptionAsync(string account, IReadOnlyCollection<string> userIds, SubscriptionRequest request, CancellationToken cancellationToken);

    /// <summary>Renews (and so reauthorizes) a subscription; throws <see cref="SubscriptionGoneException"/> on 404.</summary>
    Task<DateTimeOffset> RenewSubscriptionAsync(string account, string subscriptionId, DateTimeOffset expiration,
        X509Certificate2 encryptionCertificate, string encryptionCertificateId, CancellationToken cancellationToken);

    /// <summary>Deletes a subscription; one that is already gone counts as deleted.</summary>
    Task DeleteSubscriptionAsync(string account, string subscriptionId, CancellationToken cancellationToken);

    Task<bool> SubscriptionExistsAsync(string account, string subscriptionId, CancellationToken cancellationToken);

    Task<IReadOnlyList<SubscriptionInfo>> ListSubscriptionsAsync(string account, CancellationToken cancellationToken);

    /// <summary>getPresencesByUserId in chunks of 650 with the application credential.</summary>
    Task<IReadOnlyList<ObservedPresence>> ReadPresencesAsync(IReadOnlyList<string> userIds, CancellationToken cancellationToken);
}

/// <summary>
/// Microsoft Graph through the real SDK (Microsoft.Graph + Azure.Identity). The application credential writes and reads
/// presence and looks up users; each technical user's own credential (ROPC) owns its presence subscription, because
/// Graph has no application permission for presence subscriptions. The SDK's retry handler honours 429 Retry-After.
/// </summary>
public sealed partial class GraphGateway : ITeamsPresencePort, ISubscriptionGraph, IUserDirectory, IDisposable
{
    public const int MaxIdsPerCall = 650;
    private static readonly string[] GraphScopes = ["https://graph.microsoft.com/.default"];

    private readonly GraphOptions _options;
    private readonly ConcurrentDictionary<string, GraphServiceClient> _accounts = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, TechnicalAccountCredentials> _credentials = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, (DirectoryUser? User, DateTimeOffset At)> _users = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<IDisposable> _owned = [];
    private readonly TimeProvider _clock;
    private int _disposed;

    /// <summary>Every attempt to Graph and Entra, and the presence budget in use.</summary>
    public GraphMetrics Metrics { get; }

    /// <param name="metrics">The node's figures (<see cref="GraphSetup.AddGraphGateway"/>); none for a gateway outside a node.</param>
    public GraphGateway(GraphOptions options, TimeProvider? clock = null, GraphMetrics? metrics = null)
    {
        _options = options;
        _clock = clock ?? TimeProvider.System;
        Metrics = metrics ?? GraphMetrics.Unreported();
        Metrics.PresenceBudget = options.PresenceBudget;
        foreach (var application in options.Applications)
            AddApplication(application);
        foreach (var account in options.TechnicalAccounts)
            RegisterAccount(account);
    }

    /// <summary>The first application's governor (the only one unless more applications are configured).</summary>
    public PresenceCallGovernor Governor => _applications[0].Governor;

    /// <summary>How long a user's own presence read may wait for the budget.</summary>
    public static readonly TimeSpan MaxReadWait = TimeSpan.FromMinutes(2);

    private bool IsNonPublicAuthority => !_options.AuthorityHost.Host.EndsWith("microsoftonline.com", StringComparison.OrdinalIgnoreCase);

    /// <summary>Registers (or updates) a technical user: one client per application, each owning one subscription.</summary>
    public void RegisterAccount(TechnicalAccountCredentials credentials)
    {
        _credentials[credentials.Username] = credentials;
        foreach (var application in _applications)
            RegisterSlot(credentials, application);
    }

    private void RegisterSlot(TechnicalAccountCredentials credentials, ApplicationClients application) =>
        _accounts[SubscriptionSlots.Name(credentials.Username, application.ClientId, application == _applications[0])] =
            Client(UserCredential(credentials, application.Registration.ClientId), _options.SubscriptionTimeout, application.Governor);

    public bool HasCredentials(string account) => _accounts.ContainsKey(account);

    // The one place the obsolete ROPC credential is used: technical users have no other non-interactive sign-in for
    // delegated presence subscriptions; it stops working once MFA is enforced for them.
#pragma warning disable CS0618
    private UsernamePasswordCredential UserCredential(TechnicalAccountCredentials credentials, string clientId) =>
        new(credentials.Username, credentials.Password, _options.TenantId, clientId,
            new UsernamePasswordCredentialOptions { AuthorityHost = _options.AuthorityHost, DisableInstanceDiscovery = IsNonPublicAuthority, Transport = Transport() });
#pragma warning restore CS0618

    private ClientSecretCredential AppCredential(GraphApplication application) =>
        new(_options.TenantId, application.ClientId, application.ClientSecret,
            new ClientSecretCredentialOptions { AuthorityHost = _options.AuthorityHost, DisableInstanceDiscovery = IsNonPublicAuthority, Transport = Transport() });

    private GraphServiceClient Client(TokenCredential credential, TimeSpan timeout, PresenceCallGovernor governor)
    {
        var handlers = GraphClientFactory.CreateDefaultHandlers();
        for (var i = 0; i < handlers.Count; i++)
        {
            if (handlers[i] is Microsoft.Kiota.Http.HttpClientLibrary.Middleware.RetryHandler)
                handlers[i] = new Microsoft.Kiota.Http.HttpClientLibrary.Middleware.RetryHandler(new RetryHandlerOption { MaxRetry = _options.MaxRetries });
        }

        handlers.Add(new GovernedRetries(governor)); // the SDK's retries of presence calls count against the budget too
        handlers.Add(new GraphCallMetrics(Metrics)); // innermost: every attempt, retries included
        var http = GraphClientFactory.Create(handlers, finalHandler: Handler());
        http.Timeout = timeout;
        lock (_owned)
            _owned.Add(http);
        var auth = new AzureIdentityAuthenticationProvider(credential, allowedHosts: [_options.GraphHost.Host], scopes: GraphScopes);
        return new GraphServiceClient(http, auth, _options.GraphBaseUrl.ToString().TrimEnd('/'));
    }

    /// <summary>Azure.Identity's transport to Entra ID: trusts only what is configured for Entra.</summary>
    private HttpClientTransport Transport()
    {
        var http = new HttpClient(PinnedTls.Handler(_options.EntraTrustedCertificates, maxConnections: _options.MaxConnections));
        lock (_owned)
            _owned.Add(http);
        return new HttpClientTransport(http);
    }

    private SocketsHttpHandler Handler() => PinnedTls.Handler(_options.TrustedCertificates, maxConnections: _options.MaxConnections);

    /// <summary>
    /// Asks Entra ID for a fresh token: for an application (account null; application null: the first) or a technical
    /// user with that application. Null when it works, otherwise what is wrong and how to fix it.
    /// </summary>
    public async Task<string?> CheckSignInAsync(string? account, CancellationToken cancellationToken, string? application = null)
    {
        var registration = Find(application).Registration;
        TokenCredential credential;
        if (account is null)
        {
            credential = AppCredential(registration);
        }
        else
        {
            if (!_credentials.TryGetValue(account, out var credentials))
                return $"no password is configured for technical user {account}";
            credential = UserCredential(credentials, registration.ClientId);
        }

        try
        {
            await credential.GetTokenAsync(new TokenRequestContext(account is null ? GraphScopes : ["https://graph.microsoft.com/Presence.Read.All"]), cancellationToken);
            return null;
        }
        catch (AuthenticationFailedException e)
        {
            return EntraErrors.CodeIn(e.ToString()) is { } code ? EntraErrors.Explain(code) : e.Message;
        }
    }

    // ---------- ISubscriptionGraph ----------

    public async Task<SubscriptionInfo> CreateSubscriptionAsync(
        string account, IReadOnlyCollection<string> userIds, SubscriptionRequest request, CancellationToken cancellationToken)
    {
        if (userIds.Count is 0 or > MaxIdsPerCall)
            throw new ArgumentOutOfRangeException(nameof(userIds), userIds.Count, $"A presence subscription watches 1 to {MaxIdsPerCall} users.");
        var resource = $"/communications/presences?$filter=id in ({string.Join(",", userIds.Select(id => $"'{id}'"))})";
        var created = await AsAccount(account, graph => graph.Subscriptions.PostAsync(new Subscription
        {
            ChangeType = "updated",
            Resource = resource,
            NotificationUrl = request.NotificationUrl.ToString(),
            LifecycleNotificationUrl = request.LifecycleNotificationUrl.ToString(),
            ExpirationDateTime = request.Expiration,
            ClientState = request.ClientState,
            IncludeResourceData = true,
            EncryptionCertificate = Convert.ToBase64String(request.EncryptionCertificate.Export(X509ContentType.Cert)),
            EncryptionCertificateId = request.EncryptionCertificateId,
            LatestSupportedTlsVersion = "v1_2",
        }, cancellationToken: cancellationToken));
        return new SubscriptionInfo(created!.Id!, created.ExpirationDateTime ?? request.Expiration, resource);
    }

    public async Task<DateTimeOffset> RenewSubscriptionAsync(string account, string subscriptionId, DateTimeOffset expiration,
        X509Certificate2 encryptionCertificate, string encryptionCertificateId, CancellationToken cancellationToken)
    {
        try
        {
            // The renewal also rotates the encryption certificate (Graph accepts both in one PATCH).
            var renewed = await AsAccount(account, graph => graph.Subscriptions[subscriptionId].PatchAsync(
                new Subscription
                {
                    ExpirationDateTime = expiration,
                    EncryptionCertificate = Convert.ToBase64String(encryptionCertificate.Export(X509ContentType.Cert)),
                    EncryptionCertificateId = encryptionCertificateId,
                }, cancellationToken: cancellationToken));
            return renewed?.ExpirationDateTime ?? expiration;
        }
        catch (ODataError e) when (e.ResponseStatusCode == (int)HttpStatusCode.NotFound)
        {
            throw new SubscriptionGoneException(subscriptionId);
        }
    }

    public async Task DeleteSubscriptionAsync(string account, string subscriptionId, CancellationToken cancellationToken)
    {
        try
        {
            await AsAccount(account, async graph =>
            {
                await graph.Subscriptions[subscriptionId].DeleteAsync(cancellationToken: cancellationToken);
                return true;
            });
        }
        catch (ODataError e) when (e.ResponseStatusCode == (int)HttpStatusCode.NotFound)
        {
        }
    }

    public async Task<bool> SubscriptionExistsAsync(string account, string subscriptionId, CancellationToken cancellationToken)
    {
        try
        {
            await AsAccount(account, graph => graph.Subscriptions[subscriptionId].GetAsync(cancellationToken: cancellationToken));
            return true;
        }
        catch (ODataError e) when (e.ResponseStatusCode == (int)HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    public async Task<IReadOnlyList<SubscriptionInfo>> ListSubscriptionsAsync(string account, CancellationToken cancellationToken)
    {
        var all = await AsAccount(account, graph => graph.Subscriptions.GetAsync(cancellationToken: cancellationToken));
        return (all?.Value ?? [])
            .Where(s => s.Resource?.Contains("communications/presences", StringComparison.OrdinalIgnoreCase) == true)
            .Select(s => new SubscriptionInfo(s.Id!, s.ExpirationDateTime ?? DateTimeOffset.MinValue, s.Resource!))
            .ToList();
    }

    public async Task<IReadOnlyList<ObservedPresence>> ReadPresencesAsync(IReadOnlyList<string> userIds, CancellationToken cancellationToken)
    {
        // Each application reads its own users, within its own budget.
        var result = new List<ObservedPresence>(userIds.Count);
        foreach (var group in userIds.GroupBy(Pick))
        {
            foreach (var chunk in group.Chunk(MaxIdsPerCall))
            {
                await group.Key.Governor.AcquireAsync(PresenceCallKind.Read, cancellationToken);
                var response = await group.Key.Graph.Communications.GetPresencesByUserId.PostAsGetPresencesByUserIdPostResponseAsync(
                    new GetPresencesByUserIdPostRequestBody { Ids = [.. chunk] }, cancellationToken: cancellationToken);
                result.AddRange((response?.Value ?? [])
                    .Where(p => p.Id is not null)
                    .Select(p => new ObservedPresence(p.Id!, p.Availability ?? "PresenceUnknown", p.Activity ?? "PresenceUnknown", p.SequenceNumber)));
            }
        }

        return result;
    }

    private async Task<T> AsAccount<T>(string account, Func<GraphServiceClient, Task<T>> call)
    {
        if (!_accounts.TryGetValue(account, out var graph))
            throw new TechnicalAccountException(account, null, "no password is configured for this technical user (azure.activedirectory.technical.users[N].password)", new KeyNotFoundException(account));
        try
        {
            return await call(graph);
        }
        catch (AuthenticationFailedException e)
        {
            var code = EntraErrors.CodeIn(e.ToString());
            throw new TechnicalAccountException(account, code, code is { } c ? EntraErrors.Explain(c) : e.Message, e);
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
            return;
        foreach (var application in _applications)
            application.Governor.Dispose();
        lock (_owned)
        {
            foreach (var owned in _owned)
                owned.Dispose();
        }
    }
}
