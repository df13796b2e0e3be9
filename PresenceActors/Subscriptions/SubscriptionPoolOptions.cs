using System.Security.Cryptography.X509Certificates;

namespace PresenceActors.Subscriptions;

/// <summary>How the pool keeps presence subscriptions alive (docs/decisions.md, "A replaced subscription leaves no blind gap"; docs/operator-guide.md).</summary>
public sealed record SubscriptionPoolOptions
{
    /// <summary>Where Graph posts notifications: webhook.receiver (…/graph/listen).</summary>
    public required Uri NotificationUrl { get; init; }

    /// <summary>Where Graph posts lifecycle events (…/graph/lifecycle).</summary>
    public required Uri LifecycleNotificationUrl { get; init; }

    /// <summary>
    /// The certificate (public part) and id Graph encrypts for, read at every create and renewal: after a rotation the
    /// next renewal moves each subscription to the new one.
    /// </summary>
    public required Func<(X509Certificate2 Certificate, string Id)> Encryption { get; init; }

    /// <summary>Loads the node's encryption certificates again (a rotation made on another node); null: they never change.</summary>
    public Func<CancellationToken, Task>? ReloadEncryption { get; init; }

    public required ClientStateSigner ClientState { get; init; }

    /// <summary>Graph's maximum for presence is 60 minutes.</summary>
    public TimeSpan SubscriptionLifetime { get; init; } = TimeSpan.FromMinutes(55);

    /// <summary>Renewal happens this long before expiry (at least 10 minutes: renewals can take a minute at Graph).</summary>
    public TimeSpan RenewBefore { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>Membership changes within this window become one delete-and-create.</summary>
    public TimeSpan Debounce { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How often every watched user's presence is read in bulk and every subscription checked.</summary>
    public TimeSpan ReconcileEvery { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Share of Graph's presence budget (1500 requests / 30 s per app) the reconciliation may use.</summary>
    public int ReconcileRequestsPer30Seconds { get; init; } = 300;

    /// <summary>First retry delay of a failed subscription call; doubles up to <see cref="MaxRetryDelay"/>.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(5);

    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromMinutes(5);

    public int Capacity { get; init; } = 650;

    /// <summary>
    /// Which users a bulk read must reach (docs/scale.md, "Lazy user actors"); null: every user read, whether it matters
    /// to them or not (each read then starts every watched user's actor).
    /// </summary>
    public Users.ReadRelevance? ReadRelevance { get; init; }

    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (SubscriptionLifetime <= TimeSpan.Zero || SubscriptionLifetime > TimeSpan.FromMinutes(60))
            problems.Add("SubscriptionLifetime must be positive and at most 60 minutes (Graph's limit for presence).");
        if (RenewBefore < TimeSpan.FromMinutes(10) && SubscriptionLifetime > TimeSpan.FromMinutes(20))
            problems.Add("RenewBefore must be at least 10 minutes: Graph renewals can take up to a minute and may need retries.");
        if (RenewBefore >= SubscriptionLifetime)
            problems.Add("RenewBefore must be shorter than SubscriptionLifetime.");
        if (Capacity is < 1 or > 650)
            problems.Add("Capacity must be 1 to 650 users per technical account (Graph's limit).");
        if (ReconcileRequestsPer30Seconds is < 1 or > 1500)
            problems.Add("ReconcileRequestsPer30Seconds must be 1 to 1500 (Graph's presence budget per app).");
        return problems;
    }
}
