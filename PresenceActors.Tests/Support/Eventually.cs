namespace PresenceActors.Tests.Support;

/// <summary>Waits for a condition with a deadline, checking it on a timer: synchronises on the outcome, never on a fixed sleep.</summary>
internal static class Eventually
{
    public static Task TrueAsync(Func<bool> condition, TimeSpan? within = null, string? what = null, Func<string>? state = null) =>
        TrueAsync(() => Task.FromResult(condition()), within, what, state);

    public static async Task TrueAsync(Func<Task<bool>> condition, TimeSpan? within = null, string? what = null, Func<string>? state = null)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(20));
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(15));
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"Condition not met within {(within ?? TimeSpan.FromSeconds(15)).TotalSeconds:0.#} s{(what is null ? "" : $": {what}")}{(state is null ? "" : $" [{state()}]")}");
            await timer.WaitForNextTickAsync();
        }
    }
}
