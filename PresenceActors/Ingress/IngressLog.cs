using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace PresenceActors.Ingress;

/// <summary>
/// The persist-first ingress (docs/decisions.md, "Persist-first ingress"): the webhook appends a request's admitted items
/// and answers 202 once they are committed; many requests share one commit (group commit). Processing happens after the
/// answer, on <see cref="IngressOptions.Workers"/> entries at once, and an entry leaves the log only once every item is
/// confirmed by its user's actor or proven worthless (forged, undecryptable, a duplicate). What cannot be done yet stays
/// and is tried again. In a cluster a node renews its hold on its entries, and takes over those of a node that stopped.
/// </summary>
public sealed partial class IngressLog : IHostedService, IAsyncDisposable
{
    private readonly Counter<long> _commitsCounter;
    private readonly Counter<long> _appendedCounter;
    private readonly Counter<long> _refusedCounter;
    private readonly Counter<long> _retriedCounter;
    private readonly Counter<long> _expiredCounter;
    private readonly Counter<long> _takenOverCounter;

    private readonly IIngressStore _store;
    private readonly IIngressHandler _handler;
    private readonly IngressOptions _options;
    private readonly ILogger _log;
    private readonly TimeProvider _clock;
    private readonly Channel<IngressEntry> _work = Channel.CreateUnbounded<IngressEntry>();
    private readonly object _gate = new();
    private List<(IngressAppend Append, TaskCompletionSource<long> Committed)> _appends = [];
    private HashSet<long> _completed = [];
    private Dictionary<long, IngressRewrite> _rewrites = [];
    private readonly HashSet<long> _held = [];
    // Something is pending for the writer; many signals before it looks are one.
    private readonly Channel<bool> _flushSignal = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Task> _loops = [];
    private int _backlog;
    private int _stopped;
    private int _disposed;
    private long _commits;
    private long _appended;
    private long _handledOnce;
    private long _refused;
    private long _retried;
    private long _expired;
    private long _takenOver;
    private readonly LogThrottle _stallLog = new();

    /// <param name="meters">The node's meter factory (docs/architecture.md, "Metrics").</param>
    public IngressLog(IIngressStore store, IIngressHandler handler, IngressOptions options, ILogger<IngressLog> log, IMeterFactory meters, TimeProvider? clock = null)
    {
        (_store, _handler, _options, _log, _clock) = (store, handler, options, log, clock ?? TimeProvider.System);
        var meter = meters.Create(PresenceMetrics.MeterName);
        _commitsCounter = meter.CreateCounter<long>("presence.ingress.commits", description: "Transactions of the ingress log");
        _appendedCounter = meter.CreateCounter<long>("presence.ingress.appended", description: "Items committed to the ingress log");
        _refusedCounter = meter.CreateCounter<long>("presence.ingress.refused", description: "Items answered 503 (backlog full or log unwritable)");
        _retriedCounter = meter.CreateCounter<long>("presence.ingress.retried", description: "Entries tried again, by reason");
        _expiredCounter = meter.CreateCounter<long>("presence.ingress.expired", description: "Items removed unprocessed after presence.ingress.maxAge");
        _takenOverCounter = meter.CreateCounter<long>("presence.ingress.taken_over", description: "Entries taken over from a node that stopped");
        meter.CreateObservableGauge("presence.ingress.backlog", () => Backlog, description: "Items admitted and not yet confirmed on this node");
    }

    /// <summary>Items this node admitted or took over and has not finished.</summary>
    public int Backlog => Volatile.Read(ref _backlog);

    /// <summary>Transactions so far (appends, completions and rewrites share them).</summary>
    public long Commits => Interlocked.Read(ref _commits);

    public long Appended => Interlocked.Read(ref _appended);

    /// <summary>Items of entries handled at least once (processed, dropped, or kept to be tried again): with <see cref="Appended"/>, the sign that all that came in was looked at.</summary>
    public long HandledOnce => Interlocked.Read(ref _handledOnce);

    private void CountHandled(IngressEntry entry)
    {
        if (entry.Attempts == 0)
            Interlocked.Add(ref _handledOnce, entry.Items);
    }

    public long Refused => Interlocked.Read(ref _refused);

    public long Retried => Interlocked.Read(ref _retried);

    public long Expired => Interlocked.Read(ref _expired);

    public long TakenOver => Interlocked.Read(ref _takenOver);

    /// <summary>Entries in the log, every node's together.</summary>
    public Task<long> CountAsync(CancellationToken cancellationToken) => _store.CountAsync(cancellationToken);

    /// <summary>
    /// Appends a request's admitted items. Committed within <see cref="IngressOptions.AppendTimeout"/>: answer 202; else
    /// 503 (if the commit lands later after all, the items are processed and Graph's redelivery is a duplicate).
    /// </summary>
    public async Task<AppendResult> AppendAsync(IngressAppend append, CancellationToken cancellationToken)
    {
        // A request larger than the whole bound is still taken when nothing else waits, or it could never be.
        var backlog = Interlocked.Add(ref _backlog, append.Items) - append.Items;
        if (backlog >= _options.MaxBacklog || (backlog > 0 && backlog + append.Items > _options.MaxBacklog))
        {
            Interlocked.Add(ref _backlog, -append.Items);
            CountWaiting(append.WaitingFor, -append.Items, -append.Body.Length);
            Refuse(append.Items);
            return AppendResult.Full;
        }

        var committed = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (append.WaitingFor is { } reserved)
        {
            // Not stored after all (the transaction failed): the reservation is undone. A commit that lands after the
            // request was answered 503 keeps it, and its entry gives it back when processed.
            _ = committed.Task.ContinueWith(_ => CountWaiting(reserved, -append.Items, -append.Body.Length),
                CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        }

        lock (_gate)
            _appends.Add((append, committed));
        _flushSignal.Writer.TryWrite(true);
        try
        {
            await committed.Task.WaitAsync(_options.AppendTimeout, _clock, cancellationToken);
            return AppendResult.Committed;
        }
        catch (TimeoutException)
        {
            Refuse(append.Items);
            LogStall($"the ingress log did not commit within {_options.AppendTimeout.TotalMilliseconds:0} ms");
            return AppendResult.Unwritable;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Refuse(append.Items);
            LogStall(e.Message);
            return AppendResult.Unwritable;
        }
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _loops.Add(Task.Run(() => RunAsync(_stopping.Token), CancellationToken.None));
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1)
            return;
        await _stopping.CancelAsync();
        _work.Writer.TryComplete();
        _flushSignal.Writer.TryWrite(true);
        try
        {
            await Task.WhenAll(_loops).WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
        }

        // What finished since the last commit leaves the log now, rather than being processed again at the next start.
        HashSet<long> completed;
        Dictionary<long, IngressRewrite> rewrites;
        lock (_gate)
            (completed, rewrites) = (_completed, _rewrites);
        if (completed.Count + rewrites.Count == 0)
            return;
        try
        {
            await _store.FlushAsync([], completed, [.. rewrites.Values], CancellationToken.None);
        }
        catch (Exception e)
        {
            _log.LogWarning("ingress-final-commit-failed: {Message}; {Count} finished entries are processed again at the next start", e.Message, completed.Count);
        }
    }

    /// <summary>Stops the loops and closes the store (once: the host disposes it as a service and as a hosted service).</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None);
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
            return;
        await _store.DisposeAsync();
    }

    private async Task RunAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await _store.InitializeAsync(stopping);
                break;
            }
            catch (Exception e) when (!stopping.IsCancellationRequested)
            {
                _log.LogWarning("ingress-log-unavailable: {Message}; trying again", e.Message);
                await Delay(TimeSpan.FromSeconds(1), stopping);
            }
        }

        if (stopping.IsCancellationRequested)
            return;
        lock (_loops)
        {
            _loops.Add(Task.Run(() => FlushLoopAsync(stopping), CancellationToken.None));
            for (var i = 0; i < _options.Workers; i++)
                _loops.Add(Task.Run(() => WorkLoopAsync(stopping), CancellationToken.None));
        }

        await ClaimAsync(own: true, stopping);
        await LeaseLoopAsync(stopping);
    }

    /// <summary>One transaction for everything pending: the appends of many requests, completions and rewrites.</summary>
    private async Task FlushLoopAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            if (!await _flushSignal.Reader.WaitToReadAsync(stopping).AsTask().ContinueWith(t => t.IsCompletedSuccessfully && t.Result, TaskScheduler.Default))
                return;
            _flushSignal.Reader.TryRead(out _);
            List<(IngressAppend Append, TaskCompletionSource<long> Committed)> appends;
            HashSet<long> completed;
            Dictionary<long, IngressRewrite> rewrites;
            lock (_gate)
            {
                (appends, _appends) = (_appends, []);
                (completed, _completed) = (_completed, []);
                (rewrites, _rewrites) = (_rewrites, []);
            }

            if (appends.Count == 0 && completed.Count == 0 && rewrites.Count == 0)
                continue;
            try
            {
                var ids = await _store.FlushAsync([.. appends.Select(a => a.Append)], completed, [.. rewrites.Values], stopping);
                Interlocked.Increment(ref _commits);
                _commitsCounter.Add(1);
                lock (_gate)
                {
                    _held.ExceptWith(completed);
                    foreach (var (id, _) in ids)
                        _held.Add(id);
                }

                for (var i = 0; i < appends.Count; i++)
                {
                    var (append, committed) = appends[i];
                    Interlocked.Add(ref _appended, append.Items);
                    _appendedCounter.Add(append.Items);
                    _work.Writer.TryWrite(new IngressEntry(ids[i].Id, append.Kind, append.Body, append.Items, 0, ids[i].ReceivedAt, append.TraceParent)
                    {
                        WaitingFor = append.WaitingFor,
                    });
                    committed.TrySetResult(ids[i].Id);
                }
            }
            catch (Exception e)
            {
                // Nothing of it was committed: the requests are answered 503 (Graph delivers again); completions and
                // rewrites are kept for the next transaction.
                foreach (var (append, committed) in appends)
                {
                    Interlocked.Add(ref _backlog, -append.Items);
                    committed.TrySetException(e);
                }

                lock (_gate)
                {
                    _completed.UnionWith(completed);
                    foreach (var (id, rewrite) in rewrites)
                        _rewrites.TryAdd(id, rewrite);
                }

                if (stopping.IsCancellationRequested)
                    return;
                LogStall(e.Message);
                await Delay(TimeSpan.FromMilliseconds(200), stopping);
                _flushSignal.Writer.TryWrite(true);
            }
        }
    }

    private async Task WorkLoopAsync(CancellationToken stopping)
    {
        await foreach (var entry in _work.Reader.ReadAllAsync(CancellationToken.None))
        {
            if (stopping.IsCancellationRequested)
                return;
            IngressOutcome outcome;
            try
            {
                outcome = _clock.GetUtcNow() - entry.ReceivedAt > _options.MaxAge ? Expire(entry) : await _handler.HandleAsync(entry, stopping);
            }
            catch (Exception e) when (!stopping.IsCancellationRequested)
            {
                _log.LogError(e, "ingress-entry-failed id={Id}; tried again", entry.Id);
                outcome = new IngressOutcome(entry.Body, entry.Items, "failed");
            }
            catch (OperationCanceledException)
            {
                return;
            }

            Interlocked.Add(ref _backlog, -(entry.Items - outcome.RemainingItems));
            CountWaiting(entry.WaitingFor, -entry.Items, -entry.Body.Length);
            if (outcome.Remaining is null || outcome.RemainingItems == 0)
            {
                lock (_gate)
                    _completed.Add(entry.Id);
                _flushSignal.Writer.TryWrite(true);
                CountHandled(entry);
                continue;
            }

            var next = entry with { Body = outcome.Remaining, Items = outcome.RemainingItems, Attempts = entry.Attempts + 1, WaitingFor = outcome.Reason };
            CountWaiting(next.WaitingFor, next.Items, next.Body.Length);
            CountHandled(entry); // after the waiting counts moved: who sees it handled sees them settled
            if (outcome.RemainingItems != entry.Items || outcome.Remaining != entry.Body)
            {
                lock (_gate)
                    _rewrites[entry.Id] = new IngressRewrite(entry.Id, next.Body, next.Items, next.Attempts);
                _flushSignal.Writer.TryWrite(true);
            }

            Interlocked.Increment(ref _retried);
            _retriedCounter.Add(1, new KeyValuePair<string, object?>("reason", outcome.Reason ?? "unknown"));
            _ = RetryLaterAsync(next, outcome, stopping);
        }
    }

    private IngressOutcome Expire(IngressEntry entry)
    {
        Interlocked.Add(ref _expired, entry.Items);
        _expiredCounter.Add(entry.Items);
        _log.LogError("ingress-expired id={Id} items={Items}: not processed within {MaxAge} h of arriving; removed", entry.Id, entry.Items, _options.MaxAge.TotalHours);
        return IngressOutcome.Done;
    }

    private async Task RetryLaterAsync(IngressEntry entry, IngressOutcome outcome, CancellationToken stopping)
    {
        var delay = outcome.Soon
            ? _options.FirstRetryDelay
            : TimeSpan.FromTicks(Math.Min(_options.MaxRetryDelay.Ticks, _options.FirstRetryDelay.Ticks << Math.Min(entry.Attempts - 1, 16)));
        try
        {
            if (outcome.Ready is { } ready)
                await ready(delay).WaitAsync(stopping);
            else
                await Delay(delay, stopping);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        catch (Exception)
        {
            // Waiting for readiness failed: the back-off was the upper bound anyway.
        }

        _work.Writer.TryWrite(entry);
    }

    private void Refuse(int items)
    {
        Interlocked.Add(ref _refused, items);
        _refusedCounter.Add(items);
    }

    private void LogStall(string why)
    {
        if (_stallLog.Pass("stalled", 1, out _))
            _log.LogWarning("ingress-log-stalled: {Why}; requests are answered 503 until it commits again, Graph delivers them again", why);
    }

    private Task Delay(TimeSpan delay, CancellationToken stopping) =>
        Task.Delay(delay, _clock, stopping).ContinueWith(_ => { }, TaskScheduler.Default);
}
