using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Graph;

namespace PresenceActors.Graph;

/// <summary>
/// A technical user's subscription under one application. Graph allows one presence subscription per user and
/// application, so each (technical user, application) pair is a place in the subscription pool of its own, named by
/// the username for the first application and "username/client-id" for the others ('/' is not allowed in a user
/// principal name, so the two never clash). Docs: docs/graph-budget.md, "Several applications".
/// </summary>
public static class SubscriptionSlots
{
    public static string Name(string username, string clientId, bool firstApplication) =>
        firstApplication ? username : $"{username}/{clientId}";

    /// <summary>The technical user a pool account belongs to.</summary>
    public static string UsernameOf(string slot) => slot.Split('/', 2)[0];

    /// <summary>Whether the name is a technical user's username rather than one of its places.</summary>
    public static bool IsUsername(string name) => !name.Contains('/');
}

/// <summary>
/// Several applications (docs/graph-budget.md, "Several applications"): each has its own Graph client, its own budget
/// (a governor) and its own session id. Users are spread over them by rendezvous hashing: every node computes the same
/// spread from the same configuration without asking anyone, and an application added later takes over only the users
/// it now wins (about one in N), while the rest stay where they are. A user's running session stays with the
/// application that set it (the user's state remembers it), so a move never strands a session.
/// </summary>
public sealed partial class GraphGateway
{
    private ImmutableArray<ApplicationClients> _applications = [];
    private int _upNodes = 1;

    /// <summary>An application's Graph client (its client secret) and the governor of its budget.</summary>
    private sealed record ApplicationClients(GraphApplication Registration, GraphServiceClient Graph, PresenceCallGovernor Governor)
    {
        public string ClientId => Registration.ClientId;
    }

    /// <summary>The applications in use, the seed's first.</summary>
    public IReadOnlyList<string> Applications => [.. _applications.Select(a => a.ClientId)];

    /// <summary>Each application's governor, the first application's first.</summary>
    public IReadOnlyList<PresenceCallGovernor> Governors => [.. _applications.Select(a => a.Governor)];

    /// <summary>
    /// Adds an application (at start, or at runtime from the configuration file); returns the pool places its technical
    /// users' subscriptions take, empty when it was known already.
    /// </summary>
    public IReadOnlyList<string> AddApplication(GraphApplication application)
    {
        lock (_owned)
        {
            if (_applications.Any(a => string.Equals(a.ClientId, application.ClientId, StringComparison.OrdinalIgnoreCase)))
                return [];
            var governor = new PresenceCallGovernor(_options.PresenceBudget, _clock, _options.PresenceBudgetWindow) { Application = application.ClientId };
            governor.SetNodes(_upNodes);
            var clients = new ApplicationClients(application, Client(AppCredential(application), _options.RequestTimeout, governor), governor);
            _applications = _applications.Add(clients);
            Metrics.Governors = Governors;
            foreach (var credentials in _credentials.Values)
                RegisterSlot(credentials, clients);
            return [.. _credentials.Keys.Select(user => SubscriptionSlots.Name(user, application.ClientId, _applications.Length == 1))];
        }
    }

    /// <summary>The pool places of a technical user: one per application.</summary>
    public IReadOnlyList<string> SlotsOf(string username) =>
        [.. _applications.Select((a, i) => SubscriptionSlots.Name(username, a.ClientId, i == 0))];

    /// <summary>The cluster's Up members changed: every application's share follows.</summary>
    public void SetNodes(int upNodes)
    {
        lock (_owned)
            _upNodes = Math.Max(1, upNodes);
        foreach (var application in _applications)
            application.Governor.SetNodes(upNodes);
    }

    /// <summary>The application a new session of this user is set with, and its presence read.</summary>
    public string ApplicationFor(string userId) => Pick(userId).ClientId;

    private ApplicationClients Pick(string userId)
    {
        var applications = _applications;
        return applications.Length == 1 ? applications[0] : applications[Spread(userId, [.. applications.Select(a => a.ClientId)])];
    }

    /// <summary>The index of the application a user is spread onto (rendezvous hashing): the same on every node.</summary>
    public static int Spread(string userId, IReadOnlyList<string> applications)
    {
        var best = 0;
        var bestScore = 0UL;
        for (var i = 0; i < applications.Count; i++)
        {
            var score = Score(userId, applications[i]);
            if (score > bestScore)
                (best, bestScore) = (i, score);
        }

        return best;
    }

    /// <summary>One presence read with this application (doctor: each application's permission), within its budget.</summary>
    public async Task<ObservedPresence> ProbePresenceAsync(string application, string userId, CancellationToken cancellationToken)
    {
        var clients = Find(application);
        await clients.Governor.AcquireAsync(PresenceCallKind.Read, cancellationToken);
        var presence = await clients.Graph.Users[userId].Presence.GetAsync(cancellationToken: cancellationToken)
                       ?? throw new InvalidOperationException($"Graph returned no presence for {userId}.");
        return new ObservedPresence(userId, presence.Availability ?? "PresenceUnknown", presence.Activity ?? "PresenceUnknown", presence.SequenceNumber);
    }

    /// <summary>The application with this client id; null: the first (sessions set before several were configured).</summary>
    private ApplicationClients Find(string? clientId)
    {
        var applications = _applications;
        if (clientId is null)
            return applications[0];
        foreach (var application in applications)
        {
            if (string.Equals(application.ClientId, clientId, StringComparison.OrdinalIgnoreCase))
                return application;
        }

        throw new InvalidOperationException(
            $"application {clientId} is no longer configured (azure.activedirectory.applications[N]): its session lapses by itself at its expiry");
    }

    /// <summary>Rendezvous weight: stable across processes and versions (a hash of the ids, not string.GetHashCode).</summary>
    private static ulong Score(string userId, string clientId)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes($"{userId.ToLowerInvariant()}\n{clientId.ToLowerInvariant()}"), hash);
        return BitConverter.ToUInt64(hash);
    }
}
