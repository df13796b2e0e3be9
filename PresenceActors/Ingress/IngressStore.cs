namespace PresenceActors.Ingress;

/// <summary>What Graph delivered to one URL: change notifications (/graph/listen) or lifecycle events (/graph/lifecycle).</summary>
public enum IngressKind
{
    Notifications = 0,
    Lifecycle = 1,
}

/// <summary>One request's admitted items, still encrypted, as the ingress log keeps them until they are processed.</summary>
/// <param name="Body">A changeNotificationCollection: the admitted items and the request's validationTokens.</param>
/// <param name="Items">How many items <paramref name="Body"/> holds.</param>
/// <param name="TraceParent">The webhook request's W3C traceparent: processing continues its trace.</param>
public sealed record IngressEntry(long Id, IngressKind Kind, string Body, int Items, int Attempts, DateTimeOffset ReceivedAt, string? TraceParent = null)
{
    /// <summary>Why the entry waits since its last attempt (in memory only: the log's bookkeeping of what waits for what).</summary>
    public string? WaitingFor { get; init; }
}

/// <summary>A request's items to append.</summary>
/// <param name="WaitingFor">Counted as waiting for this from the start (reserved at admission with <see cref="IngressLog.TryReserveWaiting"/>).</param>
public sealed record IngressAppend(IngressKind Kind, string Body, int Items, string? TraceParent = null, string? WaitingFor = null);

/// <summary>An entry partly processed: what is left of it, kept for the next attempt.</summary>
public sealed record IngressRewrite(long Id, string Body, int Items, int Attempts);

/// <summary>
/// Where the webhook's admitted items wait until their users' actors confirm them (docs/decisions.md, "Persist-first
/// ingress"). Every change of one flush is one transaction, so that many requests share one commit.
/// </summary>
public interface IIngressStore : IAsyncDisposable
{
    /// <summary>Creates the table if it is missing.</summary>
    Task InitializeAsync(CancellationToken cancellationToken);

    /// <summary>
    /// In one transaction: appends (returning their ids in order), deletes the completed entries and rewrites the partly
    /// processed ones (only while this node still owns them).
    /// </summary>
    Task<IReadOnlyList<(long Id, DateTimeOffset ReceivedAt)>> FlushAsync(IReadOnlyList<IngressAppend> appends, IReadOnlyCollection<long> completed,
        IReadOnlyList<IngressRewrite> rewrites, CancellationToken cancellationToken);

    /// <summary>Extends this node's hold on its entries, so that no other node takes them over.</summary>
    Task RenewAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Entries this node should process and does not hold in memory: with <paramref name="own"/>, those a previous run on
    /// this node's address left; otherwise those whose holder stopped renewing them (a node that died), which become
    /// this node's.
    /// </summary>
    Task<IReadOnlyList<IngressEntry>> ClaimAsync(bool own, int limit, CancellationToken cancellationToken);

    /// <summary>Entries in the log, all nodes together.</summary>
    Task<long> CountAsync(CancellationToken cancellationToken);
}
