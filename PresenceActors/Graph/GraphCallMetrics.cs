using System.Diagnostics.Metrics;

namespace PresenceActors.Graph;

/// <summary>Counts every HTTP attempt to Graph and Entra into the node's <see cref="GraphMetrics"/>, below the SDK's retry handler.</summary>
public sealed class GraphCallMetrics(GraphMetrics metrics) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (IsPresenceCall(request))
            metrics.OnPresenceCall();
        try
        {
            var response = await base.SendAsync(request, cancellationToken);
            metrics.OnAttempt(request, (int)response.StatusCode);
            return response;
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            metrics.OnAttempt(request, null);
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
}
