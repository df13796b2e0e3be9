using System.Diagnostics.Metrics;

namespace PresenceActors.Graph;

/// <summary>Counts every HTTP attempt to Graph and Entra by API and status (429s included), below the SDK's retry handler.</summary>
public sealed class GraphCallMetrics : DelegatingHandler
{
    private static readonly Meter Meter = new(PresenceMetrics.MeterName);
    private static readonly Counter<long> Calls = Meter.CreateCounter<long>("presence.graph.calls", description: "HTTP attempts to Microsoft Graph by API and status");
    private static readonly PresenceWindow Presence = new();
    private static long _total;
    private static long _throttled;
    private static long _presenceBudget = GraphOptions.DefaultPresenceBudget;

    static GraphCallMetrics()
    {
        Meter.CreateObservableGauge("presence.graph.presence_budget.used", () => Presence.Count(),
            description: "Presence requests (setPresence, clearPresence, presence reads) this process made in the last 30 s");
        Meter.CreateObservableGauge("presence.graph.presence_budget.limit", () => Interlocked.Read(ref _presenceBudget),
            description: "The application's presence budget per 30 s (presence.graph.presenceBudget)");
        Meter.CreateObservableGauge("presence.graph.presence_budget.share", () => Governors.Select(g => new Measurement<int>(g.Share, Tag(g))),
            description: "This node's share of each application's presence budget per 30 s (the budget over the cluster's Up members)");
        Meter.CreateObservableGauge("presence.graph.presence_budget.in_use", () => Governors.Select(g => new Measurement<int>(g.InUse, Tag(g))),
            description: "Presence calls each application's governor let go on this node in the last 30 s");
        Meter.CreateObservableGauge("presence.graph.presence_budget.waiting", () => Governors.SelectMany(g => g.Waiting.Select(w =>
                new Measurement<int>(w.Value, Tag(g), new KeyValuePair<string, object?>("kind", w.Key.ToString())))),
            description: "Presence calls waiting for the budget, by application and kind (Clear, Set, KeepAlive, Read)");
    }

    private static KeyValuePair<string, object?> Tag(PresenceCallGovernor governor) => new("application", governor.Application);

    /// <summary>The governors of this process's applications (the last gateway made), for the gauges and the status page.</summary>
    public static IReadOnlyList<PresenceCallGovernor> Governors { get; set; } = [];

    /// <summary>Presence requests in the last 30 s, for the status page.</summary>
    public static long PresenceRequestsLast30Seconds => Presence.Count();

    /// <summary>The budget the gauge compares against: Graph's presence limit per application and tenant per 30 s.</summary>
    public static long PresenceBudget
    {
        get => Interlocked.Read(ref _presenceBudget);
        set => Interlocked.Exchange(ref _presenceBudget, value);
    }

    /// <summary>Every attempt this process made, for the status page.</summary>
    public static long Total => Interlocked.Read(ref _total);

    /// <summary>Attempts answered 429.</summary>
    public static long Throttled => Interlocked.Read(ref _throttled);

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var api = ApiOf(request);
        if (IsPresenceCall(request))
            Presence.Add();
        try
        {
            var response = await base.SendAsync(request, cancellationToken);
            Interlocked.Increment(ref _total);
            if ((int)response.StatusCode == 429)
                Interlocked.Increment(ref _throttled);
            Calls.Add(1, new KeyValuePair<string, object?>("api", api), new KeyValuePair<string, object?>("status", (int)response.StatusCode));
            return response;
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            Interlocked.Increment(ref _total);
            Calls.Add(1, new KeyValuePair<string, object?>("api", api), new KeyValuePair<string, object?>("status", "error"));
            throw;
        }
    }

    /// <summary>
    /// A low-cardinality name: the last path segment that is not an id. A user's principal name is an id too, also
    /// percent-encoded (<c>alex%40contoso.com</c>): it would make a series per user and put names into the metrics.
    /// </summary>
    internal static string ApiOf(HttpRequestMessage request)
    {
        var segments = request.RequestUri?.AbsolutePath.Split('/', StringSplitOptions.RemoveEmptyEntries) ?? [];
        var named = segments.LastOrDefault(s => !Guid.TryParse(s, out _) && !Uri.UnescapeDataString(s).Contains('@') && s != "v1.0") ?? "graph";
        return $"{request.Method.Method.ToLowerInvariant()} {named}";
    }

    /// <summary>Calls that count against Graph's presence budget: presence writes and reads.</summary>
    internal static bool IsPresenceCall(HttpRequestMessage request)
    {
        var path = request.RequestUri?.AbsolutePath ?? "";
        return path.EndsWith("/setPresence", StringComparison.OrdinalIgnoreCase)
               || path.EndsWith("/clearPresence", StringComparison.OrdinalIgnoreCase)
               || path.EndsWith("/presence", StringComparison.OrdinalIgnoreCase)
               || path.EndsWith("/getPresencesByUserId", StringComparison.OrdinalIgnoreCase);
    }

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
