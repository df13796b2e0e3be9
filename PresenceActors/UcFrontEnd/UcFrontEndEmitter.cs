using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net.Http.Json;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Serialization;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using PresenceActors.Users;

namespace PresenceActors.UcFrontEnd;

/// <summary>The UC front ends (seed key webhook.listener.http.url, comma-separated) and how they are called.</summary>
public sealed record UcFrontEndOptions
{
    public IReadOnlyList<Uri> Urls { get; init; } = [];

    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>A front end that failed is passed over for this long while another one answers.</summary>
    public TimeSpan FailoverHold { get; init; } = TimeSpan.FromSeconds(10);

    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMilliseconds(250);

    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Bounded memory: at most this many users with an update waiting.</summary>
    public int MaxPendingUsers { get; init; } = 200_000;

    public int Concurrency { get; init; } = 32;

    /// <summary>Extra certificates trusted for the front ends' TLS (pinned by thumbprint); empty in production.</summary>
    public IReadOnlyList<X509Certificate2> TrustedCertificates { get; init; } = [];
}

/// <summary>The payload of docs/design.md, 3.3.</summary>
public sealed record UcFrontEndPayload(
    [property: JsonPropertyName("ucUserId")] string UcUserId,
    [property: JsonPropertyName("teamsUserId")] string TeamsUserId,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("reason")] string Reason,
    [property: JsonPropertyName("sequence")] long Sequence,
    [property: JsonPropertyName("occurredAt")] DateTimeOffset OccurredAt);

/// <summary>
/// Delivers UC updates to the first front end that answers, failing over along the list. Per user only the newest
/// update waits and one request is in flight, so order holds; a user's update is retried with back-off until a front end
/// takes it; memory is bounded by the number of users waiting. A crash loses nothing: user actors keep their
/// unacknowledged update journaled and send it again.
/// </summary>
public sealed class UcFrontEndEmitter : IUcFrontEndPort, IAsyncDisposable
{
    private readonly Counter<long> _sentCounter;
    private readonly Counter<long> _failedCounter;
    private readonly Histogram<double> _latency;

    private readonly UcFrontEndOptions _options;
    private readonly ILogger<UcFrontEndEmitter> _log;
    private readonly HttpClient _http;
    private readonly ConcurrentDictionary<string, Slot> _slots = new(StringComparer.Ordinal);
    private readonly Channel<string> _ready = Channel.CreateUnbounded<string>();
    private readonly DateTimeOffset[] _heldUntil;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task[] _workers;
    private int _disposed;
    private long _sent;
    private long _failed;

    /// <param name="http">The front ends' client (<see cref="UcFrontEndSetup.AddUcFrontEnds"/>: pinned TLS, the request timeout).</param>
    /// <param name="meters">The node's meter factory (docs/architecture.md, "Metrics").</param>
    public UcFrontEndEmitter(UcFrontEndOptions options, HttpClient http, ILogger<UcFrontEndEmitter> log, IMeterFactory meters)
    {
        if (options.Urls.Count == 0)
            throw new ArgumentException("At least one UC front-end URL is needed (webhook.listener.http.url).", nameof(options));
        _options = options;
        _log = log;
        _heldUntil = new DateTimeOffset[options.Urls.Count];
        _http = http;
        var meter = meters.Create(PresenceMetrics.MeterName);
        _sentCounter = meter.CreateCounter<long>("presence.uc.updates.sent");
        _failedCounter = meter.CreateCounter<long>("presence.uc.updates.failed");
        _latency = meter.CreateHistogram<double>("presence.sync.latency", "ms",
            "From the decision (a notification or UC report processed) until a UC front end acknowledged the update");
        meter.CreateObservableGauge("presence.uc.updates.pending", () => (long)_slots.Count);
        _workers = Enumerable.Range(0, options.Concurrency).Select(_ => Task.Run(WorkAsync)).ToArray();
    }

    public long Sent => Interlocked.Read(ref _sent);

    /// <summary>Decision to acknowledgement, for the status page.</summary>
    public RecentLatencies Recent { get; } = new();

    /// <summary>Updates acknowledged and their sync latency, minute by minute over the last hour (the status page's charts).</summary>
    public MinuteSeries LastHour { get; } = new();

    public long Failed => Interlocked.Read(ref _failed);

    public int PendingUsers => _slots.Count;

    /// <summary>Each front end and whether it is currently passed over after a failure.</summary>
    public IReadOnlyList<(Uri Url, bool Healthy)> FrontEnds =>
        _options.Urls.Select((url, i) => (url, _heldUntil[i] <= DateTimeOffset.UtcNow)).ToList();

    public Task DeliverAsync(UcUpdate update, CancellationToken cancellationToken)
    {
        var key = update.UcUserId;
        var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        while (true)
        {
            if (!_slots.TryGetValue(key, out var slot))
            {
                if (_slots.Count >= _options.MaxPendingUsers)
                    throw new InvalidOperationException($"{_slots.Count} users already wait for a UC front end; the update stays pending at its user.");
                slot = _slots.GetOrAdd(key, _ => new Slot());
            }

            lock (slot)
            {
                if (slot.Removed)
                    continue; // a worker retired this slot between the look-up and the lock: take the fresh one

                if (slot.Pending is null || update.Sequence >= slot.Pending.Sequence)
                {
                    slot.Pending = update; // only the newest per user waits
                    slot.Trace = System.Diagnostics.Activity.Current?.Context ?? default;
                }
                slot.Waiters.Add((update.Sequence, waiter));
                if (!slot.Scheduled)
                {
                    slot.Scheduled = true;
                    _ready.Writer.TryWrite(key);
                }
            }

            break;
        }

        return waiter.Task.WaitAsync(cancellationToken);
    }

    private async Task WorkAsync()
    {
        var reader = _ready.Reader;
        while (!_stop.IsCancellationRequested)
        {
            string key;
            try
            {
                key = await reader.ReadAsync(_stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            if (!_slots.TryGetValue(key, out var slot))
                continue;
            UcUpdate? update;
            System.Diagnostics.ActivityContext trace;
            lock (slot)
            {
                update = slot.Pending;
                trace = slot.Trace;
            }

            if (update is null)
            {
                Release(key, slot);
                continue;
            }

            bool delivered;
            using (var span = trace == default ? null : PresenceTracing.Source.StartActivity("uc.deliver", System.Diagnostics.ActivityKind.Internal, trace))
            {
                span?.SetTag("presence.uc_user", update.UcUserId);
                span?.SetTag("presence.uc_sequence", update.Sequence);
                delivered = await PostAsync(update);
                span?.SetStatus(delivered ? System.Diagnostics.ActivityStatusCode.Ok : System.Diagnostics.ActivityStatusCode.Error);
            }

            if (delivered)
            {
                Interlocked.Increment(ref _sent);
                _sentCounter.Add(1);
                var latency = (DateTimeOffset.UtcNow - update.OccurredAt).TotalMilliseconds;
                _latency.Record(latency);
                Recent.Record(latency);
                LastHour.Latency(latency);
                lock (slot)
                {
                    slot.Failures = 0;
                    foreach (var (sequence, waiter) in slot.Waiters.Where(w => w.Sequence <= update.Sequence).ToList())
                    {
                        waiter.TrySetResult();
                        slot.Waiters.Remove((sequence, waiter));
                    }

                    if (ReferenceEquals(slot.Pending, update))
                        slot.Pending = null;
                    if (slot.Pending is not null)
                    {
                        _ready.Writer.TryWrite(key); // a newer one arrived meanwhile
                        continue;
                    }
                }

                Release(key, slot);
            }
            else
            {
                Interlocked.Increment(ref _failed);
                _failedCounter.Add(1);
                int failures;
                lock (slot)
                {
                    slot.Failures++;
                    failures = slot.Failures;
                    slot.Waiters.RemoveAll(w => w.Waiter.Task.IsCompleted);
                }

                var delay = TimeSpan.FromTicks(Math.Min(_options.MaxRetryDelay.Ticks, _options.RetryDelay.Ticks * (1L << Math.Min(failures - 1, 16))));
                _ = RequeueAsync(key, delay);
            }
        }
    }

    private void Release(string key, Slot slot)
    {
        lock (slot)
        {
            slot.Waiters.RemoveAll(w => w.Waiter.Task.IsCompleted);
            if (slot.Pending is not null)
            {
                _ready.Writer.TryWrite(key);
                return;
            }

            slot.Scheduled = false;
            if (slot.Waiters.Count == 0)
            {
                slot.Removed = true;
                _slots.TryRemove(KeyValuePair.Create(key, slot));
            }
        }
    }

    private async Task RequeueAsync(string key, TimeSpan delay)
    {
        try
        {
            await Task.Delay(delay, _stop.Token);
            _ready.Writer.TryWrite(key);
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Tries the front ends in order, passing over recently failed ones while another one may answer.</summary>
    private async Task<bool> PostAsync(UcUpdate update)
    {
        var payload = new UcFrontEndPayload(update.UcUserId, update.TeamsUserId, update.Status.Value, update.Reason, update.Sequence, update.OccurredAt);
        var now = DateTimeOffset.UtcNow;
        var order = Enumerable.Range(0, _options.Urls.Count).OrderBy(i => _heldUntil[i] > now ? 1 : 0).ThenBy(i => i);
        foreach (var i in order)
        {
            var url = _options.Urls[i];
            try
            {
                using var response = await _http.PostAsJsonAsync(url, payload, _stop.Token);
                if (response.IsSuccessStatusCode)
                {
                    _heldUntil[i] = default;
                    return true;
                }

                _log.LogWarning("uc-frontend-refused url={Url} status={Status} user={UcUserId}", url, (int)response.StatusCode, update.UcUserId);
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !_stop.IsCancellationRequested)
            {
                _log.LogWarning("uc-frontend-unreachable url={Url} user={UcUserId}: {Message}", url, update.UcUserId, e.Message);
            }

            _heldUntil[i] = DateTimeOffset.UtcNow + _options.FailoverHold;
        }

        return false;
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
            return; // registered under two service types, so disposed twice
        await _stop.CancelAsync();
        _ready.Writer.TryComplete();
        await Task.WhenAll(_workers.Select(w => w.ContinueWith(_ => { }, TaskScheduler.Default)));
        _http.Dispose();
        _stop.Dispose();
    }

    private sealed class Slot
    {
        public UcUpdate? Pending;
        public System.Diagnostics.ActivityContext Trace; // of the decision that made Pending, when traced
        public readonly List<(long Sequence, TaskCompletionSource Waiter)> Waiters = [];
        public bool Scheduled;
        public bool Removed;
        public int Failures;
    }
}
