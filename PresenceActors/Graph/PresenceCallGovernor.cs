namespace PresenceActors.Graph;

/// <summary>What a presence call is for, most urgent first: the order the governor lets waiting calls go.</summary>
public enum PresenceCallKind
{
    /// <summary>clearPresence: a user must never stay busy.</summary>
    Clear = 0,

    /// <summary>setPresence for a call that just started.</summary>
    Set = 1,

    /// <summary>setPresence again for a session that holds (keep-alive).</summary>
    KeepAlive = 2,

    /// <summary>Presence reads: a user's own, and the pool's bulk reads.</summary>
    Read = 3,
}

/// <summary>
/// Paces this node's presence calls within its share of the application's budget (docs/graph-budget.md): Graph allows an
/// application 1,500 presence requests per 30 s per tenant, counted over a sliding window, and answers 429 beyond it.
/// A call is let go at once while the last window holds fewer grants than the share and nothing more urgent waits;
/// otherwise it waits, and waiting calls go in this order as the window frees up: clears, keep-alives close to their
/// session's end, reads while they had less than a tenth of the share in the window, new sets, keep-alives, reads (first
/// come, first served within each). A call cancelled while it waits was never sent: it cost nothing. The window runs on
/// the monotonic clock, so a step of the wall clock neither stalls nor floods it.
/// </summary>
public sealed class PresenceCallGovernor : IDisposable
{
    /// <summary>Graph's window for the presence budget.</summary>
    public static readonly TimeSpan GraphWindow = TimeSpan.FromSeconds(30);

    private readonly TimeSpan _window;
    private readonly object _gate = new();
    private readonly TimeProvider _clock;
    private readonly Queue<(long At, bool Read)> _granted = new();
    private readonly LinkedList<Waiter>[] _waiting = [new(), new(), new(), new()];
    private readonly PriorityQueue<Waiter, DateTimeOffset> _byUrgency = new();
    private readonly ITimer _timer;
    private long? _timerDue;
    private int _nodes = 1;
    private int _readsInWindow;
    private long _grantedTotal;
    private long _waitedTotal;
    private bool _disposed;

    private sealed class Waiter(PresenceCallKind kind, DateTimeOffset? urgentAt) : TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        public PresenceCallKind Kind { get; } = kind;

        public DateTimeOffset? UrgentAt { get; } = urgentAt;

        public LinkedListNode<Waiter>? Node { get; set; }

        public CancellationTokenRegistration Registration { get; set; }
    }

    /// <param name="budget">The application's presence requests per window (presence.graph.presenceBudget).</param>
    /// <param name="window">Graph's window, 30 s; shorter only where a test shortens the simulator's too.</param>
    public PresenceCallGovernor(int budget, TimeProvider? clock = null, TimeSpan? window = null)
    {
        if (budget < 1)
            throw new ArgumentOutOfRangeException(nameof(budget), budget, "The presence budget must be at least 1 request per 30 s.");
        Budget = budget;
        // A grant counts a thirtieth longer than the window (1 s of 30): a call reaches Graph a little after it was let
        // go, and one that reached it sooner than the call whose place it takes would be one too many in Graph's window.
        _window = (window ?? GraphWindow) * 31 / 30;
        _clock = clock ?? TimeProvider.System;
        _timer = _clock.CreateTimer(_ => Release(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    public int Budget { get; }

    /// <summary>The application (client id) whose budget this is, for the status page and the metrics.</summary>
    public string Application { get; init; } = "";

    /// <summary>This node's share: the budget split evenly over the cluster's Up members (docs/graph-budget.md, "Shares").</summary>
    public int Share
    {
        get
        {
            lock (_gate)
                return ShareLocked;
        }
    }

    /// <summary>The cluster's Up members changed: each node's share follows.</summary>
    public void SetNodes(int upNodes)
    {
        lock (_gate)
            _nodes = Math.Max(1, upNodes);
        Release();
    }

    /// <summary>How long a grant counts: Graph's window and a thirtieth.</summary>
    public TimeSpan Slot => _window;

    /// <summary>Calls let go in the last window on this node.</summary>
    public int InUse
    {
        get
        {
            lock (_gate)
            {
                Prune(_clock.GetTimestamp());
                return _granted.Count;
            }
        }
    }

    /// <summary>Four fifths of the share in use, or calls waiting: sessions are asked for longer (docs/graph-budget.md).</summary>
    public bool Tight
    {
        get
        {
            lock (_gate)
            {
                Prune(_clock.GetTimestamp());
                return _granted.Count * 5 >= ShareLocked * 4 || _waiting.Any(w => w.Count > 0);
            }
        }
    }

    /// <summary>Calls waiting now, by kind.</summary>
    public IReadOnlyDictionary<PresenceCallKind, int> Waiting
    {
        get
        {
            lock (_gate)
                return Enum.GetValues<PresenceCallKind>().ToDictionary(k => k, k => _waiting[(int)k].Count);
        }
    }

    /// <summary>Calls let go since start, and how many of them had to wait.</summary>
    public (long Granted, long Waited) Totals => (Interlocked.Read(ref _grantedTotal), Interlocked.Read(ref _waitedTotal));

    /// <summary>
    /// Completes when the call may go. Cancelled while waiting, it throws <see cref="OperationCanceledException"/>: the
    /// call was not made and used none of the budget. A keep-alive still waiting at <paramref name="urgentAt"/> (shortly
    /// before its session lapses) goes right after the clears, before new calls.
    /// </summary>
    public Task AcquireAsync(PresenceCallKind kind, CancellationToken cancellationToken = default, DateTimeOffset? urgentAt = null)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var now = _clock.GetTimestamp();
            Prune(now);
            if (_granted.Count < ShareLocked && !Ahead(kind))
            {
                Grant(now, kind);
                return Task.CompletedTask;
            }

            var waiter = new Waiter(kind, kind == PresenceCallKind.KeepAlive ? urgentAt : null);
            waiter.Node = _waiting[(int)kind].AddLast(waiter);
            if (waiter.UrgentAt is { } urgent)
                _byUrgency.Enqueue(waiter, urgent);
            Interlocked.Increment(ref _waitedTotal);
            waiter.Registration = cancellationToken.Register(() => Withdraw(waiter, cancellationToken));
            ArmLocked(now);
            return waiter.Task;
        }
    }

    private int ShareLocked => Math.Max(1, Budget / _nodes);

    /// <summary>Reads may always have a tenth of the share, so that reconciliation and E1's reads are never starved.</summary>
    private int ReadFloor => Math.Max(1, ShareLocked / 10);

    /// <summary>Whether a waiting call would go before one of this kind.</summary>
    private bool Ahead(PresenceCallKind kind)
    {
        if (_waiting[(int)PresenceCallKind.Clear].Count > 0 || (kind != PresenceCallKind.Clear && Urgent() is not null))
            return true;
        if (kind == PresenceCallKind.Read)
            return _waiting[(int)PresenceCallKind.Read].Count > 0;
        if (_waiting[(int)PresenceCallKind.Read].Count > 0 && _readsInWindow < ReadFloor)
            return true;
        for (var k = (int)PresenceCallKind.Set; k <= (int)kind; k++)
        {
            if (_waiting[k].Count > 0)
                return true;
        }

        return false;
    }

    /// <summary>The waiting keep-alive whose session is closest to lapsing, when it is close enough to go first.</summary>
    private Waiter? Urgent()
    {
        while (_byUrgency.TryPeek(out var waiter, out var urgentAt))
        {
            if (waiter.Node is null)
            {
                _byUrgency.Dequeue(); // already let go or withdrawn
                continue;
            }

            return urgentAt <= _clock.GetUtcNow() ? waiter : null;
        }

        return null;
    }

    private Waiter? Next()
    {
        if (_waiting[(int)PresenceCallKind.Clear].First is { } clear)
            return clear.Value;
        if (Urgent() is { } urgent)
            return urgent;
        if (_readsInWindow < ReadFloor && _waiting[(int)PresenceCallKind.Read].First is { } read)
            return read.Value;
        foreach (var queue in _waiting)
        {
            if (queue.First is { } first)
                return first.Value;
        }

        return null;
    }

    private void Withdraw(Waiter waiter, CancellationToken token)
    {
        lock (_gate)
        {
            if (waiter.Node is not { List: not null } node)
                return; // already let go
            node.List.Remove(node);
            waiter.Node = null;
        }

        waiter.TrySetCanceled(token);
    }

    /// <summary>Lets waiting calls go as far as the window allows, most urgent first; arms the timer for the rest.</summary>
    private void Release()
    {
        var go = new List<Waiter>();
        lock (_gate)
        {
            if (_disposed)
                return;
            _timerDue = null;
            var now = _clock.GetTimestamp();
            Prune(now);
            while (_granted.Count < ShareLocked && Next() is { } waiter)
            {
                waiter.Node!.List!.Remove(waiter.Node);
                waiter.Node = null;
                Grant(now, waiter.Kind);
                go.Add(waiter);
            }

            ArmLocked(now);
        }

        foreach (var waiter in go)
        {
            waiter.Registration.Dispose();
            waiter.TrySetResult();
        }
    }

    private void Grant(long now, PresenceCallKind kind)
    {
        _granted.Enqueue((now, kind == PresenceCallKind.Read));
        if (kind == PresenceCallKind.Read)
            _readsInWindow++;
        Interlocked.Increment(ref _grantedTotal);
    }

    private void Prune(long now)
    {
        while (_granted.Count > 0 && _clock.GetElapsedTime(_granted.Peek().At, now) >= _window)
        {
            if (_granted.Dequeue().Read)
                _readsInWindow--;
        }
    }

    /// <summary>
    /// While calls wait, the timer fires when the oldest grant leaves the window (at once if there is room), and no later
    /// than a second from now while a keep-alive waits, so that one turning urgent is seen.
    /// </summary>
    private void ArmLocked(long now)
    {
        if (_waiting.All(w => w.Count == 0))
            return;
        var delay = _granted.Count < ShareLocked || _granted.Count == 0 ? TimeSpan.Zero : _window - _clock.GetElapsedTime(_granted.Peek().At, now);
        if (_waiting[(int)PresenceCallKind.KeepAlive].Count > 0 && delay > TimeSpan.FromSeconds(1))
            delay = TimeSpan.FromSeconds(1);
        if (delay < TimeSpan.Zero)
            delay = TimeSpan.Zero;
        var due = now + (long)(delay.TotalSeconds * _clock.TimestampFrequency);
        if (_timerDue is { } armed && armed <= due)
            return;
        _timerDue = due;
        _timer.Change(delay, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Stops the timer and cancels every call still waiting (none of them was sent).</summary>
    public void Dispose()
    {
        List<Waiter> left;
        lock (_gate)
        {
            if (_disposed)
                return;
            _disposed = true;
            left = [.. _waiting.SelectMany(w => w)];
            foreach (var queue in _waiting)
                queue.Clear();
            foreach (var waiter in left)
                waiter.Node = null;
        }

        _timer.Dispose();
        foreach (var waiter in left)
        {
            waiter.Registration.Dispose();
            waiter.TrySetCanceled();
        }
    }
}
