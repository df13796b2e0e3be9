using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using PresenceActors.Simulators.Common;

namespace PresenceActors.Simulators.Graph;

/// <summary>
/// Delivers change notifications as Graph documents it: several items per POST, rich notifications
/// encrypted for the subscriber's certificate, validationTokens signed by the simulator's keys, retries with back-off
/// while the receiver fails or is slow, and the misbehaviour tests ask for (drops, duplicates, reordering, latency).
/// </summary>
public sealed partial class NotificationDelivery : IAsyncDisposable
{
    /// <summary>The appid Graph's change-notification publisher puts into validationTokens.</summary>
    public const string ChangeNotificationPublisherAppId = "0bf30f3b-4a52-48df-9a82-234910c4a086";

    private readonly SimTenant _tenant;
    private readonly SimJwt _signer;
    private readonly HttpClient _http;
    private readonly TimeProvider _clock;
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly Random _random = new(4321);
    private int _holding;
    private long _published;
    private long _deliveredUpTo;

    /// <summary>A seeded draw, shared by the delivery workers.</summary>
    private bool Chance(double rate)
    {
        if (rate <= 0)
            return false;
        lock (_random)
            return _random.NextDouble() < rate;
    }
    private long _delivered;
    private long _droppedByFault;
    private long _abandoned;
    private long _failedAttempts;
    private long _waitingToRetry;

    public NotificationDelivery(SimTenant tenant, SimJwt signer, TimeProvider clock)
    {
        _tenant = tenant;
        _signer = signer;
        _clock = clock;
        SlowEndpoints = new SlowEndpointTracker(clock);
        _http = new HttpClient(new SocketsHttpHandler
        {
            // Receivers in tests and the sandbox use their own self-signed certificates; only loopback is ever called.
            SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true },
            ConnectTimeout = TimeSpan.FromSeconds(3),
        })
        {
            Timeout = ResponseDeadline,
        };
        _loop = Task.WhenAll(Enumerable.Range(0, Concurrency).Select(_ => Task.Run(RunAsync)));
    }

    /// <summary>
    /// POSTs in flight at once: Graph delivers over several connections, so a receiver sees concurrent requests and
    /// no ordering between them.
    /// </summary>
    public const int Concurrency = 4;

    /// <summary>Graph waits 3 s for the acknowledgement; a slower answer counts as a failure and is retried.</summary>
    public TimeSpan ResponseDeadline { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>How long Graph keeps retrying a notification (documented: up to 4 hours).</summary>
    public TimeSpan RetryWindow { get; set; } = TimeSpan.FromHours(4);

    /// <summary>
    /// The longest wait between two attempts of one item: the back-off doubles from 250 ms up to this. Graph does not
    /// document its schedule; a minute is the default, and tests that measure redelivery rather than patience lower it.
    /// </summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromMinutes(1);

    public SimDeliveryFaults Faults { get; set; } = new();

    /// <summary>Graph's slow-endpoint rules and each host's standing (docs/decisions.md, "The Graph simulator judges slow endpoints").</summary>
    public SlowEndpointTracker SlowEndpoints { get; set; }

    /// <summary>Notifications held back <see cref="SlowEndpointRules.Delay"/> because their host was delayed for slowness.</summary>
    public long DelayedForSlowness => Interlocked.Read(ref _delayedForSlowness);

    /// <summary>Notifications dropped because their host was slow too often.</summary>
    public long DroppedForSlowness => Interlocked.Read(ref _droppedForSlowness);

    private long _delayedForSlowness;
    private long _droppedForSlowness;

    /// <summary>Notifications (items) acknowledged with 2xx by receivers.</summary>
    public long Delivered => Interlocked.Read(ref _delivered);

    /// <summary>The longest a subscriber took to answer a delivery (a timeout counts as the deadline).</summary>
    public TimeSpan LongestAnswer => TimeSpan.FromTicks(Interlocked.Read(ref _longestAnswerTicks));

    private long _longestAnswerTicks;

    public long DroppedByFault => Interlocked.Read(ref _droppedByFault);

    /// <summary>Items given up on after the retry window.</summary>
    public long Abandoned => Interlocked.Read(ref _abandoned);

    public long FailedAttempts => Interlocked.Read(ref _failedAttempts);

    /// <summary>Items that failed and wait out their back-off (up to <see cref="MaxRetryDelay"/>) before Graph sends them again.</summary>
    public long WaitingToRetry => Interlocked.Read(ref _waitingToRetry);

    /// <summary>Whether the URL may be called: the simulator only ever talks to this machine.</summary>
    public static bool IsLoopback(Uri url) =>
        url.IsLoopback || (IPAddress.TryParse(url.Host, out var ip) && IPAddress.IsLoopback(ip));

    public void Publish(PresenceChange change)
    {
        foreach (var subscription in _tenant.SubscriptionsWatching(change.UserId))
        {
            var item = BuildItem(subscription, change);
            if (Chance(Faults.DropRate))
            {
                Interlocked.Increment(ref _droppedByFault);
                continue;
            }

            var pending = new Pending(subscription.NotificationUrl, subscription.ApplicationId, item, subscription.IncludeResourceData, _clock.GetUtcNow(), 0)
            {
                Sequence = Interlocked.Increment(ref _published),
                // Decided here, in publication order: deciding when a worker takes it let a later item, taken by another
                // worker a moment earlier, be the one held back (and the order come out unchanged).
                HoldBack = Chance(Faults.ReorderRate) && Interlocked.CompareExchange(ref _holding, 1, 0) == 0,
            };
            _queue.Writer.TryWrite(pending);
            if (Chance(Faults.DuplicateRate))
                _queue.Writer.TryWrite(pending with { HoldBack = false });
        }
    }

    private async Task RunAsync()
    {
        var reader = _queue.Reader;
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                if (!await reader.WaitToReadAsync(_stop.Token))
                    return;
            }
            catch (OperationCanceledException)
            {
                return;
            }

            var batch = new List<Pending>();
            Pending? heldBack = null;
            while (batch.Count < 100 && reader.TryRead(out var next))
            {
                // One item at a time is held back, so that the next item, taken by any worker, overtakes it.
                if (next.HoldBack)
                    heldBack = next; // goes out after whatever comes next
                else
                    batch.Add(next);
            }

            if (heldBack is not null)
            {
                if (!batch.Any(p => p.Sequence > heldBack.Sequence))
                    await WaitForOvertakerAsync(reader, batch, heldBack.Sequence);
                batch.Add(heldBack with { HoldBack = false }); // its retries are not held again
                Interlocked.Exchange(ref _holding, 0);
            }

            if (Faults.LatencyMs > 0)
                await Task.Delay(TimeSpan.FromMilliseconds(Faults.LatencyMs), _clock);

            foreach (var group in batch.GroupBy(p => p.Url))
                await DeliverAsync(group.Key, group.ToList());
        }
    }

    /// <summary>
    /// Holds an item back until a later one has overtaken it: this worker takes the next item itself, or another worker
    /// has finished delivering one published after it. A lone item goes out after 10 s with nothing newer published
    /// (a loaded machine can take seconds between two changes a test makes one after the other); once a newer one is
    /// published, its delivery is waited for (up to 30 s) so the order holds.
    /// </summary>
    private async Task WaitForOvertakerAsync(ChannelReader<Pending> reader, List<Pending> batch, long heldSequence)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (Interlocked.Read(ref _deliveredUpTo) <= heldSequence
               && clock.Elapsed < (Interlocked.Read(ref _published) > heldSequence ? TimeSpan.FromSeconds(30) : TimeSpan.FromSeconds(10)))
        {
            if (reader.TryRead(out var overtaking))
            {
                batch.Add(overtaking);
                return;
            }

            using var slice = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            slice.CancelAfter(TimeSpan.FromMilliseconds(20));
            try
            {
                await reader.WaitToReadAsync(slice.Token);
            }
            catch (OperationCanceledException) when (!_stop.IsCancellationRequested)
            {
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>
    /// Notes the newest publication delivered (or gone for good: dropped, abandoned, held for a slow host), for a held-back
    /// item to know it was overtaken. A failed attempt does not count: the receiver has not seen it, and its retry must
    /// still arrive first.
    /// </summary>
    private void MarkDelivered(List<Pending> items) => Raise(ref _deliveredUpTo, items.Max(i => i.Sequence));

    private static void Raise(ref long field, long value)
    {
        long seen;
        while ((seen = Interlocked.Read(ref field)) < value && Interlocked.CompareExchange(ref field, value, seen) != seen)
        {
        }
    }

    private async Task DeliverAsync(string url, List<Pending> items)
    {
        var host = Uri.TryCreate(url, UriKind.Absolute, out var parsed) ? parsed.Authority : url;
        switch (SlowEndpoints.StandingOf(host))
        {
            case EndpointStanding.Dropping:
                Interlocked.Add(ref _droppedForSlowness, items.Count);
                MarkDelivered(items);
                return;
            case EndpointStanding.Delayed when items.Any(i => !i.HeldForSlowness):
                // Every notification to a delayed host waits once, then goes out (or meets the host's standing then).
                Interlocked.Add(ref _delayedForSlowness, items.Count(i => !i.HeldForSlowness));
                MarkDelivered(items);
                var until = _clock.GetUtcNow() + SlowEndpoints.Rules.Delay;
                foreach (var item in items)
                    _ = RequeueLaterAsync(item with { HeldForSlowness = true, NotBefore = item.HeldForSlowness ? DateTimeOffset.MinValue : until });
                return;
        }

        var body = new JsonObject { ["value"] = new JsonArray(items.Select(i => (JsonNode)i.Item.DeepClone()).ToArray()) };
        var richApps = items.Where(i => i.Rich).Select(i => i.ApplicationId).Distinct().ToList();
        if (richApps.Count > 0)
            body["validationTokens"] = new JsonArray(richApps.Select(a => (JsonNode)JsonValue.Create(ValidationToken(a))!).ToArray());

        // Timed on the tracker's clock (the system's, unless a test gives it one it moves).
        var tracker = SlowEndpoints;
        var started = tracker.Clock.GetTimestamp();
        var posted = await PostAsync(url, body);
        var took = tracker.Clock.GetElapsedTime(started);
        // An answer that did not come within the deadline is as slow as one that came late.
        tracker.Count(host, items.Count, took >= ResponseDeadline ? null : took);
        long longest;
        while (took.Ticks > (longest = Interlocked.Read(ref _longestAnswerTicks)) && Interlocked.CompareExchange(ref _longestAnswerTicks, took.Ticks, longest) != longest)
        {
        }
        if (posted)
        {
            MarkDelivered(items);
            Interlocked.Add(ref _delivered, items.Count);
            return;
        }

        // A failed attempt has not overtaken anything yet: an item held back behind it waits for its retry.
        Interlocked.Increment(ref _failedAttempts);
        var now = _clock.GetUtcNow();
        foreach (var item in items)
        {
            if (now - item.FirstAttempt > RetryWindow)
            {
                Interlocked.Increment(ref _abandoned);
                MarkDelivered([item]);
                continue;
            }

            var delay = TimeSpan.FromMilliseconds(Math.Min(MaxRetryDelay.TotalMilliseconds, 250 * Math.Pow(2, Math.Min(item.Attempts, 30))));
            _ = RequeueLaterAsync(item with { Attempts = item.Attempts + 1, NotBefore = now + delay });
        }
    }

    private async Task RequeueLaterAsync(Pending pending)
    {
        Interlocked.Increment(ref _waitingToRetry);
        try
        {
            await WaitOutBackoffAsync(pending);
        }
        finally
        {
            Interlocked.Decrement(ref _waitingToRetry);
        }
    }

    private async Task WaitOutBackoffAsync(Pending pending)
    {
        var wait = pending.NotBefore - _clock.GetUtcNow();
        if (wait > TimeSpan.Zero)
        {
            try
            {
                await Task.Delay(wait, _clock, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }

        _queue.Writer.TryWrite(pending with { NotBefore = DateTimeOffset.MinValue });
    }

    private async Task<bool> PostAsync(string url, JsonObject body)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || !IsLoopback(uri))
            return false;
        try
        {
            using var content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
            using var response = await _http.PostAsync(uri, content, _stop.Token);
            return response.IsSuccessStatusCode;
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or TaskCanceledException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _queue.Writer.TryComplete();
        try
        {
            await _loop;
        }
        catch (OperationCanceledException)
        {
        }

        _http.Dispose();
        _stop.Dispose();
    }

    private sealed record Pending(string Url, string ApplicationId, JsonObject Item, bool Rich, DateTimeOffset FirstAttempt, int Attempts)
    {
        /// <summary>Publication order, for the reorder fault.</summary>
        public long Sequence { get; init; }

        public DateTimeOffset NotBefore { get; init; } = DateTimeOffset.MinValue;

        /// <summary>Held back by the reorder fault until a later item has overtaken it.</summary>
        public bool HoldBack { get; init; }

        /// <summary>Already held back once because its host was delayed for slowness.</summary>
        public bool HeldForSlowness { get; init; }
    }
}
