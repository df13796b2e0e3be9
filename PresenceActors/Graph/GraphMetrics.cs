using System.Diagnostics.Metrics;

namespace PresenceActors.Graph;

/// <summary>
/// The node's Graph call figures (docs/architecture.md, "Metrics"): every HTTP attempt to Graph and Entra by API and
/// status, the presence requests of the last 30 s, and each application's governor, for the gauges and the status page.
/// </summary>
public sealed class GraphMetrics
{
    private readonly Counter<long> _calls;
    private readonly PresenceWindow _presence = new();
    private long _total;
    private long _throttled;
    private long _presenceBudget = GraphOptions.DefaultPresenceBudget;

    public GraphMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(PresenceMetrics.MeterName);
        _calls = meter.CreateCounter<long>("presence.graph.calls", description: "HTTP attempts to Microsoft Graph by API and status");
        meter.CreateObservableGauge("presence.graph.presence_budget.used", () => _presence.Count(),
            description: "Presence requests (setPresence, clearPresence, presence reads) this node made in the last 30 s");
        meter.CreateObservableGauge("presence.graph.presence_budget.limit", () => PresenceBudget,
            description: "The application's presence budget per 30 s (presence.graph.presenceBudget)");
        meter.CreateObservableGauge("presence.graph.presence_budget.share", () => Governors.Select(g => new Measurement<int>(g.Share, Tag(g))),
            description: "This node's share of each application's presence budget per 30 s (the budget over the cluster's Up members)");
        meter.CreateObservableGauge("presence.graph.presence_budget.in_use", () => Governors.Select(g => new Measurement<int>(g.InUse, Tag(g))),
            description: "Presence calls each application's governor let go on this node in the last 30 s");
        meter.CreateObservableGauge("presence.graph.presence_budget.waiting", () => Governors.SelectMany(g => g.Waiting.Select(w =>
                new Measurement<int>(w.Value, Tag(g), new KeyValuePair<string, object?>("kind", w.Key.ToString())))),
            description: "Presence calls waiting for the budget, by application and kind (Clear, Set, KeepAlive, Read)");
    }

    /// <summary>Figures no one reads (a gateway of the command line's doctor).</summary>
    public static GraphMetrics Unreported() => new(new OwnMeters());

    private static KeyValuePair<string, object?> Tag(PresenceCallGovernor governor) => new("application", governor.Application);

    /// <summary>The governors of the node's applications, for the gauges and the status page.</summary>
    public IReadOnlyList<PresenceCallGovernor> Governors { get; set; } = [];

    /// <summary>Presence requests in the last 30 s, for the status page.</summary>
    public long PresenceRequestsLast30Seconds => _presence.Count();

    /// <summary>The budget the gauge compares against: Graph's presence limit per application and tenant per 30 s.</summary>
    public long PresenceBudget
    {
        get => Interlocked.Read(ref _presenceBudget);
        set => Interlocked.Exchange(ref _presenceBudget, value);
    }

    /// <summary>Every attempt this node made, for the status page.</summary>
    public long Total => Interlocked.Read(ref _total);

    /// <summary>Attempts answered 429.</summary>
    public long Throttled => Interlocked.Read(ref _throttled);

    internal void OnAttempt(HttpRequestMessage request, int? status)
    {
        Interlocked.Increment(ref _total);
        if (status == 429)
            Interlocked.Increment(ref _throttled);
        _calls.Add(1, new KeyValuePair<string, object?>("api", GraphCallMetrics.ApiOf(request)), new KeyValuePair<string, object?>("status", status is { } code ? code : "error"));
    }

    internal void OnPresenceCall() => _presence.Add();

    /// <summary>Counts events in a sliding 30 s window of one-second buckets.</summary>
    private sealed class PresenceWindow
    {
        private const int Seconds = 30;
        private readonly long[] _counts = new long[Seconds];
        private readonly long[] _stamps = new long[Seconds];

        public void Add()
        {
            var now = Environment.TickCount64 / 1000;
            var slot = (int)(now % Seconds);
            lock (_counts)
            {
                if (_stamps[slot] != now)
                {
                    _stamps[slot] = now;
                    _counts[slot] = 0;
                }

                _counts[slot]++;
            }
        }

        public long Count()
        {
            var now = Environment.TickCount64 / 1000;
            long total = 0;
            lock (_counts)
            {
                for (var i = 0; i < Seconds; i++)
                {
                    if (now - _stamps[i] < Seconds)
                        total += _counts[i];
                }
            }

            return total;
        }
    }
}
