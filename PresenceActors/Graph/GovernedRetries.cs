namespace PresenceActors.Graph;

/// <summary>
/// The Graph SDK's retry handler sends a presence call again after a 429 or a 5xx, each time marked with a
/// <c>Retry-Attempt</c> header. Each attempt counts against Graph's budget, so each retry first passes the governor
/// (docs/graph-budget.md), with the priority of what it retries: the first attempt passed it in <see cref="GraphGateway"/>.
/// </summary>
public sealed class GovernedRetries(PresenceCallGovernor governor) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (request.Headers.Contains("Retry-Attempt") && GraphCallMetrics.IsPresenceCall(request))
            await governor.AcquireAsync(KindOf(request), cancellationToken);
        return await base.SendAsync(request, cancellationToken);
    }

    private static PresenceCallKind KindOf(HttpRequestMessage request)
    {
        var path = request.RequestUri?.AbsolutePath ?? "";
        return path.EndsWith("/clearPresence", StringComparison.OrdinalIgnoreCase) ? PresenceCallKind.Clear
            : path.EndsWith("/setPresence", StringComparison.OrdinalIgnoreCase) ? PresenceCallKind.Set
            : PresenceCallKind.Read;
    }
}
