using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace PresenceActors.Ingress;

/// <summary>
/// Runs the ingress log's processing (decryption above all: an RSA unwrap per item) on threads of its own that the
/// operating system runs after the webhook's (docs/decisions.md, "The webhook before the processing"): on Linux each
/// thread lowers its own priority (nice 10), so a request that arrives while both cores decrypt a backlog is answered
/// within a scheduler tick instead of waiting for a turn among the decryptions. The processing still gets every cycle
/// the webhook leaves. Continuations of what runs here stay here unless they leave on purpose.
/// </summary>
public sealed class BackgroundScheduler : TaskScheduler, IDisposable
{
    /// <summary>The niceness of the processing's threads (0 is normal, 19 the lowest; raising it needs no privilege).</summary>
    public const int Niceness = 10;

    private readonly BlockingCollection<Task> _queue = new();
    private readonly Thread[] _threads;

    [ThreadStatic]
    private static BackgroundScheduler? _current;

    public BackgroundScheduler(int threads, string name)
    {
        _threads = new Thread[Math.Max(1, threads)];
        for (var i = 0; i < _threads.Length; i++)
        {
            _threads[i] = new Thread(Run) { IsBackground = true, Name = $"{name} {i}" };
            _threads[i].Start();
        }
    }

    public override int MaximumConcurrencyLevel => _threads.Length;

    protected override void QueueTask(Task task)
    {
        try
        {
            _queue.Add(task);
        }
        catch (InvalidOperationException)
        {
            // Disposed while something still continues (a retry's timer): it finishes on the thread pool.
            ThreadPool.UnsafeQueueUserWorkItem(_ => TryExecuteTask(task), null);
        }
    }

    protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued) =>
        _current == this && TryExecuteTask(task);

    protected override IEnumerable<Task> GetScheduledTasks() => _queue.ToArray();

    public void Dispose() => _queue.CompleteAdding();

    private void Run()
    {
        _current = this;
        if (OperatingSystem.IsLinux())
            SetPriority(0, GetTid(), Niceness); // refused, it runs at the normal priority: slower answers, nothing lost
        foreach (var task in _queue.GetConsumingEnumerable())
            TryExecuteTask(task);
    }

    // setpriority(PRIO_PROCESS, tid, nice): on Linux a thread id names one thread (its own scheduling entity).
    [DllImport("libc", EntryPoint = "setpriority", SetLastError = true)]
    private static extern int SetPriority(int which, int who, int priority);

    [DllImport("libc", EntryPoint = "gettid")]
    private static extern int GetTid();
}
