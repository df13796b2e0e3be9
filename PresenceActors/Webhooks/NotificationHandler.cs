using System.Collections.Immutable;
using System.Text.Json;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using PresenceActors.Ingress;
using PresenceActors.Subscriptions;
using PresenceActors.Users;
using static PresenceActors.Webhooks.NotificationJson;

namespace PresenceActors.Webhooks;

/// <summary>
/// Processes an ingress log entry after Graph was answered (docs/decisions.md, "Persist-first ingress"): each item's
/// subscription against what the pool published, duplicates dropped before they cost an RSA decryption, the
/// validationTokens validated, rich content decrypted, then one message per user to the shard region, confirmed once
/// the user's actor journaled it. Only items proven worthless are dropped (forged, undecryptable, duplicates, content for
/// another user); whatever cannot be done yet (a subscription not yet published, Entra's signing keys or the
/// certificate store unreachable, an actor that does not confirm because its shard is moving or its node died) stays
/// in the entry and is tried again.
/// </summary>
public sealed class NotificationHandler(
    ItemAuthenticity authenticity,
    NotificationDecryptor decryptor,
    ValidationTokenValidator tokens,
    DuplicateFilter duplicates,
    WebhookMetrics metrics,
    IServiceProvider services,
    PresenceActors.Cluster.ClusterQuorum quorum,
    IngressOptions options,
    ILogger<NotificationHandler> log) : IIngressHandler
{
    private readonly LogThrottle _waitLog = new();
    private readonly DropLog _drops = new(log);

    // Resolved on first use, not when the handler is built: it is built with the ingress log's hosted service, and
    // resolving an IRequiredActor there would create the actor system before Akka.Hosting starts it.
    private IRequiredActor<UserPresenceRegion> UserRegion => field ??= services.GetRequiredService<IRequiredActor<UserPresenceRegion>>();

    private IRequiredActor<SubscriptionPoolKey> PoolProxy => field ??= services.GetRequiredService<IRequiredActor<SubscriptionPoolKey>>();

    /// <summary>Why an entry waits while this node sees only a minority of the cluster (ClusterQuorum).</summary>
    public const string NoQuorum = "no-quorum";

    public async Task<IngressOutcome> HandleAsync(IngressEntry entry, CancellationToken cancellationToken)
    {
        // Cut off with a minority: the users' actors here may be started on the other side any moment; nothing is fed
        // to them until this node sees a majority again, or it is downed and the survivors take the entry over.
        if (!quorum.Held)
        {
            LogWaiting(entry.Items, NoQuorum);
            return new IngressOutcome(entry.Body, entry.Items, NoQuorum, Soon: true);
        }
        using var document = JsonDocument.Parse(entry.Body);
        var root = document.RootElement;
        if (!TryItems(root, out var items))
        {
            Drop("malformed-item", null);
            return IngressOutcome.Done;
        }

        var later = new Later();
        if (entry.Kind == IngressKind.Lifecycle)
            await LifecycleAsync(items, later);
        else
            await NotificationsAsync(root, items, entry.TraceParent, later, cancellationToken);
        if (later.Items.Count == 0)
            return IngressOutcome.Done;
        LogWaiting(later.Items.Count, later.Reason);
        return new IngressOutcome(Collection(later.Items, root), later.Items.Count, later.Reason,
            later.Subscription is { } id ? timeout => authenticity.WhenKnownAsync(id, timeout) : null, Soon: later.Reason is "not-confirmed" or "pool-unavailable");
    }

    /// <summary>Items kept for the next attempt, and why the first of them waits.</summary>
    private sealed class Later
    {
        public List<JsonElement> Items { get; } = [];

        public string? Reason { get; private set; }

        /// <summary>A subscription whose publication makes trying again worth it at once.</summary>
        public string? Subscription { get; private set; }

        public void Add(JsonElement item, string reason, string? subscription = null)
        {
            Items.Add(item);
            // An entry with any item waiting for an unknown subscription is counted under that reason (its bound,
            // NotificationAdmission), whatever else waits beside it.
            Reason = Reason is null || reason == ItemAuthenticity.UnknownSubscription ? reason : Reason;
            Subscription ??= subscription;
        }
    }

    /// <summary>
    /// A post's change notifications, each through the same named steps (<see cref="OpenAsync"/>); the rich ones that pass
    /// go to their users' actors at once and are confirmed together, the basic ones become one presence read.
    /// </summary>
    private async Task NotificationsAsync(JsonElement root, List<JsonElement> items, string? traceParent, Later later, CancellationToken cancellationToken)
    {
        // The region first: a wait for it that is cancelled (the node stopping) must not leave an item marked as seen.
        var region = await UserRegion.GetAsync(cancellationToken);
        var tokens = new PostTokens(this, root);
        var opened = new List<(UserPresenceCommands.ObserveTeamsPresence Observed, ChangeItem Item)>();
        var basic = new List<ChangeItem>();
        try
        {
            foreach (var raw in items)
            {
                var (item, stop) = ReadEnvelope(raw);
                if (item is { Content: null })
                {
                    basic.Add(item); // a basic notification names the user only: its presence is read
                    continue;
                }

                UserPresenceCommands.ObserveTeamsPresence? observed = null;
                if (item is not null)
                    (observed, stop) = await OpenAsync(item, tokens, traceParent, cancellationToken);
                if (observed is not null)
                    opened.Add((observed, item!));
                else
                    Stopped(stop!, raw, later);
            }
        }
        catch
        {
            // The entry is tried again whole: what was opened and not sent must not be taken for a copy then.
            foreach (var (_, item) in opened)
                duplicates.Forget(item.Content!.DataSignature);
            throw;
        }

        // The post's changes go to their actors together, once all are decrypted: their journal writes then meet in few
        // transactions instead of one each (docs/decisions.md, "The journal's transactions on SQLite").
        var confirming = opened.Select(o => (Taken: Send(region, o.Observed), o.Item)).ToList();

        if (basic.Count > 0)
            await ResyncAsync(basic, later);
        await Task.WhenAll(confirming.Select(c => c.Taken.ContinueWith(_ => { }, TaskScheduler.Default)));
        foreach (var (taken, item) in confirming)
        {
            if (taken.IsCompletedSuccessfully)
            {
                metrics.OnAccepted();
                continue;
            }

            // Not confirmed: forget it was seen, so that the next attempt is not mistaken for a duplicate.
            duplicates.Forget(item.Content!.DataSignature);
            later.Add(item.Raw, "not-confirmed");
        }
    }

    /// <summary>Step 1: the envelope. The clientState and subscription are authentic and published, the user named.</summary>
    private (ChangeItem? Item, ItemStop? Stop) ReadEnvelope(JsonElement raw)
    {
        if (authenticity.Check(raw, out var subscriptionId) is { } reason)
            return (null, ItemStop.Drop(reason, subscriptionId));
        if (!authenticity.IsKnown(subscriptionId!))
            return (null, ItemStop.Wait(ItemAuthenticity.UnknownSubscription, subscriptionId));
        return ChangeItem.Read(raw, subscriptionId!) is { } item ? (item, null) : (null, ItemStop.Drop("no-resource-id", subscriptionId));
    }

    /// <summary>The steps of a rich item after its envelope, in order; any of them may stop it.</summary>
    private async Task<(UserPresenceCommands.ObserveTeamsPresence? Observed, ItemStop? Stop)> OpenAsync(
        ChangeItem item, PostTokens tokens, string? traceParent, CancellationToken cancellationToken)
    {
        if ((SeenBefore(item) ?? await tokens.CheckAsync(item, cancellationToken) ?? CertificateNamed(item)) is { } stop)
            return (null, stop);
        var (plaintext, problem) = await DecryptAsync(item, cancellationToken);
        if (problem is not null)
            return (null, problem);
        if (FirstTime(item) is { } copy)
            return (null, copy);
        return TryPresence(plaintext!, item.UserId, out var availability, out var activity, out var sequence)
            ? (new UserPresenceCommands.ObserveTeamsPresence(item.UserId, availability, activity, sequence, TeamsPresenceSource.Notification,
                Acknowledge: true, TraceParent: traceParent), null)
            : (null, ItemStop.Drop("bad-content", item.SubscriptionId));
    }

    /// <summary>
    /// Step 2: a copy of an item already processed (Graph redelivers a request answered 503 whose commit landed late) is
    /// dropped before it costs an RSA decryption. Only verified items are recorded (<see cref="FirstTime"/>), so a forgery
    /// carrying a genuine signature is dropped as a copy only once the genuine item was processed, and cannot shadow it.
    /// </summary>
    private ItemStop? SeenBefore(ChangeItem item) =>
        item.Content!.DataSignature.Length > 0 && duplicates.Seen(item.Content.DataSignature) ? ItemStop.Drop("duplicate", item.SubscriptionId) : null;

    /// <summary>Step 4: Graph names the certificate in every rich item; content that names none is malformed, not a missing key.</summary>
    private static ItemStop? CertificateNamed(ChangeItem item) =>
        string.IsNullOrEmpty(item.Content!.EncryptionCertificateId) && string.IsNullOrEmpty(item.Content.EncryptionCertificateThumbprint)
            ? ItemStop.Drop("no-certificate", item.SubscriptionId)
            : null;

    /// <summary>Step 6: only verified content counts as seen, so that a tampered copy cannot shadow the genuine one.</summary>
    private ItemStop? FirstTime(ChangeItem item) =>
        duplicates.FirstTime(item.Content!.DataSignature) ? null : ItemStop.Drop("duplicate", item.SubscriptionId);

    /// <summary>Step 7: to the user's actor, whose <see cref="UserPresenceCommands.Taken"/> says it journaled the change.</summary>
    private Task<UserPresenceCommands.Taken> Send(IActorRef region, UserPresenceCommands.ObserveTeamsPresence observed) =>
        region.Ask<UserPresenceCommands.Taken>(observed, options.ConfirmTimeout);

    /// <summary>A stopped item: counted and dropped when proven worthless, kept in the entry otherwise.</summary>
    private void Stopped(ItemStop stop, JsonElement raw, Later later)
    {
        if (stop.Waits)
            later.Add(raw, stop.Reason, stop.SubscriptionId);
        else
            Drop(stop.Reason, stop.SubscriptionId);
    }

    /// <summary>Step 3: the post's validationTokens, checked once, when its first rich item needs them.</summary>
    private sealed class PostTokens(NotificationHandler handler, JsonElement root)
    {
        private Task<bool?>? _valid;

        public async Task<ItemStop?> CheckAsync(ChangeItem item, CancellationToken cancellationToken) =>
            await (_valid ??= handler.ValidTokensAsync(root, cancellationToken)) switch
            {
                null => ItemStop.Wait("validation-keys-unreachable"),
                false => ItemStop.Drop("validation-token", item.SubscriptionId),
                true => null,
            };
    }

    /// <summary>Lifecycle events: presence only ever gets reauthorizationRequired, but the others are handled too.</summary>
    private async Task LifecycleAsync(List<JsonElement> items, Later later)
    {
        foreach (var item in items)
        {
            if (authenticity.Check(item, out var subscriptionId) is { } reason)
            {
                Drop(reason, subscriptionId);
                continue;
            }

            object? command = Text(item, "lifecycleEvent") switch
            {
                "reauthorizationRequired" => new SubscriptionPoolCommands.ReauthorizationRequired(subscriptionId!),
                "subscriptionRemoved" or "missed" => new SubscriptionPoolCommands.Resync([]),
                _ => null,
            };
            if (command is null)
            {
                Drop("unknown-lifecycle-event", subscriptionId);
                continue;
            }

            if (await PoolTakesAsync(command))
                metrics.OnAccepted();
            else
                later.Add(item, "pool-unavailable");
        }
    }

    private async Task ResyncAsync(List<ChangeItem> basic, Later later)
    {
        if (await PoolTakesAsync(new SubscriptionPoolCommands.Resync([.. basic.Select(b => b.UserId)])))
        {
            foreach (var _ in basic)
                metrics.OnAccepted();
            return;
        }

        foreach (var item in basic)
            later.Add(item.Raw, "pool-unavailable");
    }

    /// <summary>Whether the pool (a singleton, perhaps moving) confirmed the command.</summary>
    private async Task<bool> PoolTakesAsync(object command)
    {
        try
        {
            using var registered = new CancellationTokenSource(options.ConfirmTimeout);
            await (await PoolProxy.GetAsync(registered.Token)).Ask<SubscriptionPoolCommands.CommandResult>(command, options.ConfirmTimeout);
            return true;
        }
        catch (Exception e) when (e is AskTimeoutException or OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>
    /// Step 5: the RSA and AES work. A certificate this node does not hold, or a store it cannot read now, keeps the item
    /// for later; content that does not decrypt or verify is dropped.
    /// </summary>
    private async Task<(byte[]? Plaintext, ItemStop? Stop)> DecryptAsync(ChangeItem item, CancellationToken cancellationToken)
    {
        try
        {
            var (plaintext, problem) = await decryptor.DecryptAsync(item.Content!, cancellationToken);
            if (problem == NotificationDecryptor.UnknownCertificate)
            {
                metrics.OnUnknownCertificate(item.Content!.EncryptionCertificateId, DateTimeOffset.UtcNow);
                return (null, ItemStop.Wait(problem));
            }

            return plaintext is null ? (null, ItemStop.Drop(problem!, item.SubscriptionId)) : (plaintext, null);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The cluster's store could not be read (the database away): nothing is known about the item yet.
            log.LogWarning("encryption-certificates-unreadable: {Message}; the item waits", e.Message);
            return (null, ItemStop.Wait("certificates-unreadable"));
        }
    }

    /// <summary>True or false once checked; null when Entra's signing keys could not be read (the items wait).</summary>
    private async Task<bool?> ValidTokensAsync(JsonElement root, CancellationToken cancellationToken)
    {
        metrics.OnTokensChecked();
        if (Property(root, "validationTokens") is not { ValueKind: JsonValueKind.Array } array)
            return false;
        var list = array.EnumerateArray().Where(t => t.ValueKind == JsonValueKind.String).Select(t => t.GetString()!).ToList();
        try
        {
            return await tokens.AllValidAsync(list, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            log.LogWarning("validation-tokens-unchecked: {Message}; the items wait", e.Message);
            return null;
        }
    }

    private void LogWaiting(int count, string? reason)
    {
        if (_waitLog.Pass("waiting", count, out _))
            log.LogWarning("notifications-waiting count={Count} reason={Reason}: kept in the ingress log and tried again", count, reason);
    }

    private void Drop(string reason, string? subscriptionId)
    {
        metrics.OnDropped(reason);
        _drops.Dropped(reason, subscriptionId);
    }

    private static bool TryPresence(byte[] plaintext, string userId, out string availability, out string activity, out string? sequence)
    {
        availability = activity = "";
        sequence = null;
        try
        {
            using var document = JsonDocument.Parse(plaintext);
            var root = document.RootElement;
            if (Text(root, "id") is { } id && !string.Equals(id, userId, StringComparison.OrdinalIgnoreCase))
                return false; // content for another user than the envelope names
            availability = Text(root, "availability") ?? "";
            activity = Text(root, "activity") ?? "";
            sequence = Text(root, "sequenceNumber");
            return availability.Length > 0 && activity.Length > 0;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
