using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;

namespace PresenceActors.Simulators.Graph;

/// <summary>A Graph error answer: HTTP status plus Graph's error code and message.</summary>
public sealed class SimGraphError(int status, string code, string message) : Exception(message)
{
    public int Status { get; } = status;

    public string Code { get; } = code;
}

/// <summary>A presence change to deliver to the subscriptions watching the user.</summary>
public sealed record PresenceChange(string UserId, string Availability, string Activity, string SequenceNumber);

/// <summary>
/// The simulated tenant: directory, presence with sessions and user-preferred presence aggregated as Graph does
/// (docs/graph-api.md, section 2), and subscriptions with Graph's limits (section 3). Thread-safe behind one lock.
/// </summary>
public sealed partial class SimTenant(TimeProvider clock)
{
    public const int MaxIdsPerCall = 650;
    public static readonly TimeSpan MaxSubscriptionLifetime = TimeSpan.FromMinutes(60);
    public static readonly TimeSpan MinSessionExpiration = TimeSpan.FromMinutes(5);
    public static readonly TimeSpan MaxSessionExpiration = TimeSpan.FromHours(4);

    private static readonly HashSet<(string, string)> SettablePairs =
    [
        ("Available", "Available"), ("Busy", "InACall"), ("Busy", "InAConferenceCall"), ("Away", "Away"), ("DoNotDisturb", "Presenting"),
    ];

    private static readonly HashSet<(string, string)> PreferredPairs =
    [
        ("Available", "Available"), ("Busy", "Busy"), ("DoNotDisturb", "DoNotDisturb"), ("BeRightBack", "BeRightBack"),
        ("Away", "Away"), ("Offline", "OffWork"),
    ];

    private readonly object _gate = new();
    private readonly Dictionary<string, SimUser> _users = new(StringComparer.OrdinalIgnoreCase);
    // Look-ups by name at directory scale (100,000 users): a scan per filtered value would make the simulator the bottleneck.
    private readonly Dictionary<string, SimUser> _byUpn = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, SimUser> _byMail = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, SimApplication> _apps = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, SimSubscription> _subscriptions = new(StringComparer.OrdinalIgnoreCase);

    public string TenantId { get; init; } = "8d2a6c8e-4d1f-4c2e-9f3a-5b7e1c0d2a11";

    public string Domain { get; init; } = "contoso.com";

    /// <summary>Raised outside the lock for every change of a user's aggregated presence.</summary>
    public event Action<PresenceChange>? PresenceChanged;

    public TimeProvider Clock => clock;

    // ---------- directory ----------

    public SimApplication AddApplication(string clientId, string secret, TimeSpan? secretLifetime = null)
    {
        lock (_gate)
        {
            var app = new SimApplication { ClientId = clientId };
            app.Secrets.Add(new SimSecret(secret, clock.GetUtcNow() + (secretLifetime ?? TimeSpan.FromDays(365))));
            _apps[clientId] = app;
            return app;
        }
    }

    public SimApplication? FindApplication(string clientId)
    {
        lock (_gate)
            return _apps.GetValueOrDefault(clientId);
    }

    public SimUser AddUser(string userPrincipalName, string? displayName = null, string? mail = null, string? password = null,
        bool technical = false, string? id = null)
    {
        lock (_gate)
        {
            if (_byUpn.ContainsKey(userPrincipalName))
                throw new SimGraphError(409, "Request_BadRequest", $"Another object with the same value for property userPrincipalName already exists: {userPrincipalName}");
            var user = new SimUser
            {
                Id = id ?? Guid.NewGuid().ToString(),
                UserPrincipalName = userPrincipalName,
                Mail = mail ?? userPrincipalName,
                DisplayName = displayName ?? userPrincipalName.Split('@')[0],
                Password = password,
                Technical = technical,
            };
            _users[user.Id] = user;
            _byUpn[user.UserPrincipalName] = user;
            if (user.Mail is { } address)
                _byMail.TryAdd(address, user);
            Reaggregate(user, clock.GetUtcNow(), out _);
            return user;
        }
    }

    private int _ticking;

    /// <summary>By object id, UPN or mail.</summary>
    public SimUser? FindUser(string idOrName)
    {
        lock (_gate)
            return FindUserLocked(idOrName);
    }

    private SimUser? FindUserLocked(string idOrName) =>
        _users.GetValueOrDefault(idOrName) ?? _byUpn.GetValueOrDefault(idOrName) ?? _byMail.GetValueOrDefault(idOrName);

    public IReadOnlyList<SimUser> Users()
    {
        lock (_gate)
            return _users.Values.ToList();
    }

    /// <summary>The users whose <paramref name="property"/> (id, userPrincipalName or mail) equals one of <paramref name="values"/>.</summary>
    public IReadOnlyList<SimUser> FilterUsers(string property, IEnumerable<string> values)
    {
        lock (_gate)
        {
            var index = property.ToLowerInvariant() switch
            {
                "mail" => _byMail,
                "userprincipalname" => _byUpn,
                "id" => _users,
                _ => throw new SimGraphError(400, "Request_UnsupportedQuery", $"Unsupported or invalid query filter clause specified for property '{property}' of resource 'User'."),
            };
            return values.Select(v => index.GetValueOrDefault(v)).OfType<SimUser>().DistinctBy(u => u.Id).ToList();
        }
    }

    /// <summary>How many users the tenant has (its size decides its directory limits).</summary>
    public int UserCount
    {
        get
        {
            lock (_gate)
                return _users.Count;
        }
    }

    // ---------- presence ----------

    public (string Availability, string Activity, string SequenceNumber) GetPresence(string userId)
    {
        lock (_gate)
        {
            var user = RequireUser(userId);
            return (user.ShownAvailability, user.ShownActivity, user.SequenceNumber);
        }
    }

    public IReadOnlyList<(string Id, string Availability, string Activity, string SequenceNumber)> GetPresences(IReadOnlyList<string> ids)
    {
        if (ids.Count > MaxIdsPerCall)
            throw new SimGraphError(400, "BadRequest", $"The number of ids ({ids.Count}) exceeds the maximum of {MaxIdsPerCall}.");
        lock (_gate)
        {
            return ids.Select(id => _users.GetValueOrDefault(id))
                .Where(u => u is not null)
                .Select(u => (u!.Id, u.ShownAvailability, u.ShownActivity, u.SequenceNumber))
                .ToList();
        }
    }

    public void SetSessionPresence(string userId, string callerAppId, string sessionId, string availability, string activity, TimeSpan? expiration)
    {
        if (!string.Equals(sessionId, callerAppId, StringComparison.OrdinalIgnoreCase))
            throw new SimGraphError(400, "InvalidArgument", "The sessionId must be the application id of the caller.");
        if (!SettablePairs.Contains((availability, activity)))
            throw new SimGraphError(400, "InvalidArgument", $"The availability/activity pair {availability}/{activity} is not supported for setPresence.");
        var duration = expiration ?? MinSessionExpiration;
        if (duration < MinSessionExpiration || duration > MaxSessionExpiration)
            throw new SimGraphError(400, "InvalidArgument", "Request parameter [ExpirationDuration] is out of range.");
        Change(userId, (user, now) => user.Sessions[sessionId] = new SimPresenceState(availability, activity, now + duration));
    }

    public void ClearSessionPresence(string userId, string callerAppId, string sessionId)
    {
        if (!string.Equals(sessionId, callerAppId, StringComparison.OrdinalIgnoreCase))
            throw new SimGraphError(400, "InvalidArgument", "The sessionId must be the application id of the caller.");
        Change(userId, (user, _) =>
        {
            if (!user.Sessions.Remove(sessionId))
                throw new SimGraphError(404, "NotFound", $"Presence session {sessionId} not found.");
        });
    }

    public void SetPreferredPresence(string userId, string availability, string activity, TimeSpan? expiration)
    {
        if (!PreferredPairs.Contains((availability, activity)))
            throw new SimGraphError(400, "InvalidArgument", $"The availability/activity pair {availability}/{activity} is not supported for setUserPreferredPresence.");
        var duration = expiration ?? (availability is "DoNotDisturb" or "Busy" ? TimeSpan.FromDays(1) : TimeSpan.FromDays(7));
        Change(userId, (user, now) => user.Preferred = new SimPresenceState(availability, activity, now + duration));
    }

    public void ClearPreferredPresence(string userId) => Change(userId, (user, _) => user.Preferred = null);

    /// <summary>The user's own Teams client: signed out, available, or in a (conference) call.</summary>
    public void SetClient(string userId, TeamsClientState state) => Change(userId, (user, _) => user.Client = state);

    /// <summary>An Outlook calendar meeting (Busy/InAMeeting), which is not a call.</summary>
    public void SetMeeting(string userId, bool inMeeting) => Change(userId, (user, _) => user.InMeeting = inMeeting);

    /// <summary>Drops expired sessions and preferences and reports what that changed. Called by the simulator's ticker.</summary>
    public void Tick()
    {
        // A tick still running (a tenant of a million users on a busy machine) makes the next one skip, rather than
        // pile up behind the lock that every request takes.
        if (Interlocked.Exchange(ref _ticking, 1) == 1)
            return;
        var changes = new List<PresenceChange>();
        try
        {
            lock (_gate)
            {
                var now = clock.GetUtcNow();
                foreach (var user in _users.Values)
                {
                    // Only what expires changes with time (sessions, preferred presence): every other change is
                    // aggregated when it is made.
                    if ((user.Sessions.Count > 0 || user.Preferred is not null) && Reaggregate(user, now, out var change))
                        changes.Add(change!);
                }
            }
        }
        finally
        {
            Volatile.Write(ref _ticking, 0);
        }

        foreach (var change in changes)
            PresenceChanged?.Invoke(change);
    }

    private void Change(string userId, Action<SimUser, DateTimeOffset> change)
    {
        PresenceChange? changed;
        lock (_gate)
        {
            var user = RequireUser(userId);
            var now = clock.GetUtcNow();
            change(user, now);
            Reaggregate(user, now, out changed);
        }

        if (changed is not null)
            PresenceChanged?.Invoke(changed);
    }

    private SimUser RequireUser(string idOrName) =>
        FindUserLocked(idOrName) ?? throw new SimGraphError(404, "Request_ResourceNotFound", $"Resource '{idOrName}' does not exist or one of its queried reference-property objects are not present.");

    private static bool Reaggregate(SimUser user, DateTimeOffset now, out PresenceChange? change)
    {
        foreach (var expired in user.Sessions.Where(s => s.Value.ExpiresAt <= now).Select(s => s.Key).ToList())
            user.Sessions.Remove(expired);
        if (user.Preferred?.ExpiresAt <= now)
            user.Preferred = null;

        var (availability, activity) = Aggregate(user);
        if (availability == user.ShownAvailability && activity == user.ShownActivity && user.Sequence > 0)
        {
            change = null;
            return false;
        }

        user.ShownAvailability = availability;
        user.ShownActivity = activity;
        user.Sequence++;
        change = new PresenceChange(user.Id, availability, activity, user.SequenceNumber);
        return true;
    }

    /// <summary>
    /// Graph's aggregation (docs/graph-api.md, section 2): the user's own DoNotDisturb, BeRightBack, Away and Offline outrank every
    /// session; otherwise the busiest session wins (DND > Busy > Available > Away), and at equal availability a call
    /// activity beats a meeting, which beats plain Busy. With no session at all the user is Offline.
    /// </summary>
    internal static (string Availability, string Activity) Aggregate(SimUser user)
    {
        var candidates = new List<(string Availability, string Activity)>();
        switch (user.Client)
        {
            case TeamsClientState.Available: candidates.Add(("Available", "Available")); break;
            case TeamsClientState.InACall: candidates.Add(("Busy", "InACall")); break;
            case TeamsClientState.InAConferenceCall: candidates.Add(("Busy", "InAConferenceCall")); break;
            case TeamsClientState.Presenting: candidates.Add(("DoNotDisturb", "Presenting")); break;
        }

        candidates.AddRange(user.Sessions.Values.Select(s => (s.Availability, s.Activity)));
        if (candidates.Count == 0)
            return ("Offline", "Offline");

        if (user.Preferred is { Availability: "DoNotDisturb" or "BeRightBack" or "Away" or "Offline" } own)
            return (own.Availability, own.Activity);
        if (user.Preferred is { } preferred)
            candidates.Add((preferred.Availability, preferred.Activity));
        if (user.InMeeting)
            candidates.Add(("Busy", "InAMeeting"));

        return candidates.OrderByDescending(c => AvailabilityRank(c.Availability)).ThenByDescending(c => ActivityRank(c.Activity)).First();
    }

    private static int AvailabilityRank(string availability) => availability switch
    {
        "DoNotDisturb" => 4,
        "Busy" => 3,
        "Available" => 2,
        "Away" => 1,
        _ => 0,
    };

    private static int ActivityRank(string activity) => activity switch
    {
        "InACall" or "InAConferenceCall" or "Presenting" => 3,
        "InAMeeting" => 2,
        "Busy" => 1,
        _ => 0,
    };

    public void Reset()
    {
        lock (_gate)
        {
            _users.Clear();
            _subscriptions.Clear();
            foreach (var app in _apps.Values)
                app.InjectedError = null;
        }
    }
}
