using System.Collections.Concurrent;
using System.Threading.Channels;
using PresenceActors.Presence;
using PresenceActors.Users;

namespace PresenceActors.Tests.Support;

/// <summary>A UC front end that records what reaches it, in order; it can be told to fail.</summary>
internal sealed class RecordingFrontEnd : IUcFrontEndPort
{
    private readonly Channel<UcUpdate> _received = Channel.CreateUnbounded<UcUpdate>();

    public volatile bool Failing;

    public ConcurrentQueue<UcUpdate> All { get; } = new();

    public Task DeliverAsync(UcUpdate update, CancellationToken cancellationToken)
    {
        if (Failing)
            throw new HttpRequestException("front end refused (test)");
        All.Enqueue(update);
        _received.Writer.TryWrite(update);
        return Task.CompletedTask;
    }

    public async Task<UcUpdate> NextAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(15));
        return await _received.Reader.ReadAsync(cts.Token);
    }
}

/// <summary>Graph presence for tests: records our session calls and answers reads with what the test sets.</summary>
internal sealed class RecordingTeams : ITeamsPresencePort
{
    private readonly Channel<string> _calls = Channel.CreateUnbounded<string>();
    private readonly ConcurrentDictionary<string, TeamsPresence> _presence = new();

    public ConcurrentQueue<string> All { get; } = new();

    public void Show(string userId, string availability, string activity) =>
        _presence[userId] = TeamsPresence.Parse(availability, activity);

    public async Task<TimeSpan> SetCallPresenceAsync(string userId, TeamsSessionRequest request, CancellationToken cancellationToken)
    {
        var expiration = request.Expiration;
        await Record(request.Shown == TeamsShown.InACall ? $"set {userId} {expiration.TotalSeconds:0}s" : $"set {userId} {expiration.TotalSeconds:0}s {request.Shown}");
        return expiration;
    }

    public string ApplicationFor(string userId) => "app";

    public async Task<bool> ClearCallPresenceAsync(string userId, string? application, CancellationToken cancellationToken)
    {
        await Record($"clear {userId}");
        return false;
    }

    /// <summary>How many of the next reads fail (Graph away for a moment).</summary>
    public int FailingReads;

    public Task<TeamsPresence> ReadPresenceAsync(string userId, CancellationToken cancellationToken)
    {
        All.Enqueue($"read {userId}");
        if (Interlocked.Decrement(ref FailingReads) >= 0)
            return Task.FromException<TeamsPresence>(new HttpRequestException("Graph answered 503 (test)"));
        return Task.FromResult(_presence.GetValueOrDefault(userId) ?? TeamsPresence.Parse("Available", "Available"));
    }

    private Task Record(string call)
    {
        All.Enqueue(call);
        _calls.Writer.TryWrite(call);
        return Task.CompletedTask;
    }

    /// <summary>The next set or clear call, e.g. "set u1 300s" or "clear u1".</summary>
    public async Task<string> NextAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(15));
        return await _calls.Reader.ReadAsync(cts.Token);
    }
}
