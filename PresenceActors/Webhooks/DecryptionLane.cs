using System.Collections.Concurrent;

namespace PresenceActors.Webhooks;

/// <summary>
/// Threads of their own for the ingress log's decryptions (docs/decisions.md, "The webhook and the processing share the
/// cores"). On the thread pool, an entry's ten RSA unwraps ran as one 3 ms block, and a request arriving while every pool
/// thread held such a block waited in the pool's queue for its 202. Here the unwraps compete with the requests for the
/// cores in the operating system's scheduler, which lets a woken request thread in within a time slice, and the pool
/// only runs the short steps around them. The threads never queue work of their own: a result completes its task, and
/// the code awaiting it goes on on the thread pool.
/// </summary>
public sealed class DecryptionLane : IDisposable
{
    private readonly BlockingCollection<Task> _jobs = new();
    private readonly bool _shared;

    /// <summary>One lane per process: like the thread pool, it is sized to the machine, not to a caller, and lives as long.</summary>
    public static DecryptionLane Shared { get; } = new(Environment.ProcessorCount, shared: true);

    public DecryptionLane(int threads)
        : this(threads, shared: false)
    {
    }

    private DecryptionLane(int threads, bool shared)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        _shared = shared;
        for (var i = 0; i < threads; i++)
            new Thread(Loop) { IsBackground = true, Name = $"presence-decrypt-{i}" }.Start();
    }

    /// <summary>
    /// Runs <paramref name="work"/> on one of the lane's threads; an exception it throws faults the task, and so does
    /// work handed to a lane that was disposed.
    /// </summary>
    public Task<T> Run<T>(Func<T> work)
    {
        // Continuations run on the thread pool, never inline on a lane thread.
        var job = new Task<T>(work, TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            _jobs.Add(job);
        }
        catch (InvalidOperationException)
        {
            return Task.FromException<T>(new ObjectDisposedException(nameof(DecryptionLane)));
        }

        return job;
    }

    /// <summary>Lets the threads finish the work queued and end; the shared lane is never ended.</summary>
    public void Dispose()
    {
        if (!_shared)
            _jobs.CompleteAdding();
    }

    private void Loop()
    {
        foreach (var job in _jobs.GetConsumingEnumerable())
            job.RunSynchronously(TaskScheduler.Default);
    }
}
