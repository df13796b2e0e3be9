using System.Collections.Concurrent;

namespace PresenceActors.Simulators.Graph;

/// <summary>Injected failures, Graph's documented rate limits (on by default), and the log of every call received.</summary>
public sealed class SimFaults(TimeProvider clock)
{
    /// <summary>Documented per app and tenant (docs/graph-contract.md, section 0): presence 1500 requests / 30 s, subscriptions 2000 / 20 s.</summary>
    public static readonly IReadOnlyDictionary<string, (int Requests, TimeSpan Window)> DocumentedLimits = new Dictionary<string, (int, TimeSpan)>
    {
        ["presence"] = (1500, TimeSpan.FromSeconds(30)),
        ["subscriptions"] = (2000, TimeSpan.FromSeconds(20)),
    };

    private const int MaxLoggedCalls = 200_000;

    private readonly object _gate = new();
    private readonly List<SimFault> _faults = [];
    private readonly Dictionary<(string App, string Group), Queue<DateTimeOffset>> _windows = [];
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

    /// <summary>Null when the call is within the rate limit of its group; otherwise how long until it would be.</summary>
    public TimeSpan? Throttle(string app, string api)
    {
        var group = api.Split('.')[0];
        if (!RateLimitsEnabled || !Limits.TryGetValue(group, out var limit))
            return null;
        lock (_gate)
        {
            var now = clock.GetUtcNow();
            if (!_windows.TryGetValue((app, group), out var window))
                _windows[(app, group)] = window = new Queue<DateTimeOffset>();
            while (window.Count > 0 && window.Peek() <= now - limit.Window)
                window.Dequeue();
            if (window.Count >= limit.Requests)
                return window.Peek() + limit.Window - now;
            window.Enqueue(now);
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
