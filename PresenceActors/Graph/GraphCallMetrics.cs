using System.Diagnostics.Metrics;

namespace PresenceActors.Graph;

/// <summary>Counts every HTTP attempt to Graph and Entra by API and status (429s included), below the SDK's retry handler.</summary>
public sealed class GraphCallMetrics : DelegatingHandler
{
    private static readonly Meter Meter = new(PresenceMetrics.MeterName);
    private static readonly Counter<long> Calls = Meter.CreateCounter<long>("presence.graph.calls", description: "HTTP attempts to Microsoft Graph by API and status");
    private static long _total;
    private static long _throttled;

    /// <summary>Every attempt this process made, for the status page.</summary>
    public static long Total => Interlocked.Read(ref _total);

    /// <summary>Attempts answered 429.</summary>
    public static long Throttled => Interlocked.Read(ref _throttled);

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var api = ApiOf(request);
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

    /// <summary>A low-cardinality name: the last path segment that is not an id.</summary>
    internal static string ApiOf(HttpRequestMessage request)
    {
        var segments = request.RequestUri?.AbsolutePath.Split('/', StringSplitOptions.RemoveEmptyEntries) ?? [];
        var named = segments.LastOrDefault(s => !Guid.TryParse(s, out _) && !s.Contains('@') && s != "v1.0") ?? "graph";
        return $"{request.Method.Method.ToLowerInvariant()} {named}";
    }
}
