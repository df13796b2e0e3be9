using System.Collections.Concurrent;

namespace PresenceActors.Simulators.Graph;

/// <summary>Injected failures, Graph's documented rate limits (on by default), and the log of every call received.</summary>
public sealed class SimFaults(TimeProvider clock)
{
    /// <summary>Documented per app and tenant (docs/graph-api.md, section 0): presence 1500 requests / 30 s, subscriptions 2000 / 20 s.</summary>
    public static readonly IReadOnlyDictionary<string, (int Requests, TimeSpan Window)> DocumentedLimits = new Dictionary<string, (int, TimeSpan)>
    {
        ["presence"] = (1500, TimeSpan.FromSeconds(30)),
        ["subscriptions"] = (2000, TimeSpan.FromSeconds(20)),
    };

    private const int MaxLoggedCalls = 200_000;

    private readonly object _gate = new();
    private readonly List<SimFault> _faults = [];
    private readonly Dictionary<(string App, string Group), (Queue<(DateTimeOffset At, int Cost)> Calls, int Used)> _windows = [];
    private readonly ConcurrentQueue<SimCall> _calls = new();
    private readonly Random _random = new(1234);

    public bool RateLimitsEnabled { get; set; } = true;

    /// <summary>Overrides of <see cref="DocumentedLimits"/>, e.g. to make throttling reachable in a test.</summary>
    public Dictionary<string, (int Requests, TimeSpan Window)> Limits { get; } = new(DocumentedLimits);

    public void Add(SimFault fault)
    {
        lock (_gate)
            _faults.Add(fault);
    }

    public void Clear()
    {
        lock (_gate)
        {
            _faults.Clear();
            _windows.Clear();
        }
    }

    public IReadOnlyList<SimFault> Active()
    {
        lock (_gate)
            return _faults.ToList();
    }

    /// <summary>The fault that applies to this call, if any (consuming one of its count).</summary>
    public SimFault? Take(string api)
    {
        lock (_gate)
        {
            foreach (var fault in _faults)
            {
                if (!fault.Matches(api) || fault.Count == 0 || _random.NextDouble() >= fault.Rate)
                    continue;
                if (fault.Count is { } left)
                    fault.Count = left - 1;
                return fault;
            }

            return null;
        }
    }

    /// <summary>
    /// The directory's limit for one application in one tenant (Graph's identity and access throttling), in resource units
    /// per 10 s by the tenant's size: 3,500 under 50 users, 5,000 up to 500, 8,000 above.
    /// </summary>
    public static (int Requests, TimeSpan Window) DirectoryLimit(int tenantUsers) =>
        (tenantUsers < 50 ? 3_500 : tenantUsers <= 500 ? 5_000 : 8_000, TimeSpan.FromSeconds(10));

    /// <summary>
    /// Null when the call is within the rate limit of its group; otherwise how long until it would be. A call costs
    /// <paramref name="cost"/> of the limit (resource units for the directory, 1 elsewhere); <paramref name="limit"/>
    /// applies when <see cref="Limits"/> has none for the group.
    /// </summary>
    public TimeSpan? Throttle(string app, string api, int cost = 1, (int Requests, TimeSpan Window)? limit = null)
    {
        var group = api.Split('.')[0];
        if (!RateLimitsEnabled)
            return null;
        if (Limits.TryGetValue(group, out var configured))
            limit = configured;
        if (limit is not { } applies)
            return null;
        lock (_gate)
        {
            var now = clock.GetUtcNow();
            var (calls, used) = _windows.GetValueOrDefault((app, group), (new Queue<(DateTimeOffset At, int Cost)>(), 0));
            while (calls.Count > 0 && calls.Peek().At <= now - applies.Window)
                used -= calls.Dequeue().Cost;
            if (used + cost > applies.Requests && calls.Count > 0)
            {
                _windows[(app, group)] = (calls, used);
                return calls.Peek().At + applies.Window - now;
            }

            calls.Enqueue((now, cost));
            _windows[(app, group)] = (calls, used + cost);
            return null;
        }
    }

    public void Log(SimCall call)
    {
        _calls.Enqueue(call);
        while (_calls.Count > MaxLoggedCalls)
            _calls.TryDequeue(out _);
    }

    public IReadOnlyList<SimCall> Calls => _calls.ToArray();

    public void ClearCalls() => _calls.Clear();
}
