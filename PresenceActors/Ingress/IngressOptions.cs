namespace PresenceActors.Ingress;

/// <summary>The ingress log's bounds and timings (docs/operator-guide.md, "Configuration keys": presence.ingress.*).</summary>
public sealed record IngressOptions
{
    /// <summary>
    /// Items admitted and not yet confirmed by their users' actors that this node holds at most; beyond it the webhook
    /// answers 503 with Retry-After at once (Graph delivers again) instead of letting the backlog grow.
    /// </summary>
    public int MaxBacklog { get; init; } = 50_000;

    /// <summary>
    /// Items waiting for a subscription the pool has not published (yet) that this node holds at most, and their bytes:
    /// they pass the clientState check and may wait for hours, so a leaked clientState must not be able to fill the
    /// backlog with them. Beyond either bound, requests with such items are answered 503 (Graph delivers them again).
    /// </summary>
    public int MaxUnknownSubscriptionItems { get; init; } = 10_000;

    /// <inheritdoc cref="MaxUnknownSubscriptionItems"/>
    public long MaxUnknownSubscriptionBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>How long a request waits for its commit before it is answered 503 (a stalled database never makes the webhook slow).</summary>
    public TimeSpan AppendTimeout { get; init; } = TimeSpan.FromMilliseconds(900);

    /// <summary>
    /// How long an item waits for its user's actor to confirm it before it is tried again. A journal write takes
    /// milliseconds; a message sent towards a node that just died is lost until the region learns of the death, and
    /// this decides how soon it is sent again.
    /// </summary>
    public TimeSpan ConfirmTimeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>First pause before an entry that could not be finished is tried again; it doubles up to <see cref="MaxRetryDelay"/>.</summary>
    public TimeSpan FirstRetryDelay { get; init; } = TimeSpan.FromMilliseconds(250);

    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long an item that can never be processed is kept trying (Graph itself gives up after 4 hours); then it is
    /// removed, counted as expired and logged as an error.
    /// </summary>
    public TimeSpan MaxAge { get; init; } = TimeSpan.FromHours(4);

    /// <summary>In a cluster: how long a node's hold on its entries lasts unless renewed; a dead node's entries are taken over after it.</summary>
    public TimeSpan Lease { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How often a node renews its hold and looks for entries of a node that stopped renewing.</summary>
    public TimeSpan RenewEvery { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Entries processed at once. Decryption runs on every core; most of an entry's time is the wait for its actors'
    /// journal writes, and the more entries wait together the more the journal batches into one commit (B1: 8 workers
    /// confirmed 531 items/s on 2 cores, the journal idle between their round trips).
    /// </summary>
    public int Workers { get; init; } = Math.Max(16, Environment.ProcessorCount * 32);
}
