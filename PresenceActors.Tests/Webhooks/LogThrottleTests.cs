using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace PresenceActors.Tests.Webhooks;

/// <summary>The throttle behind the service's repeated warnings (dropped items, waiting items, a stalled ingress log).</summary>
public class LogThrottleTests
{
    [Fact]
    public void The_first_of_a_burst_passes_at_once_and_the_held_back_ones_are_counted_into_the_next_line()
    {
        var clock = new FakeTimeProvider();
        var throttle = new LogThrottle(TimeSpan.FromSeconds(10), clock);

        Assert.True(throttle.Pass("forged", 1, out var first));
        Assert.Equal(1, first);
        Assert.False(throttle.Pass("forged", 999, out _));
        clock.Advance(TimeSpan.FromSeconds(9.9));
        Assert.False(throttle.Pass("forged", 5, out _));

        clock.Advance(TimeSpan.FromSeconds(0.1));
        Assert.True(throttle.Pass("forged", 2, out var next));
        Assert.Equal(1_006, next);
        Assert.False(throttle.Pass("forged", 1, out _));
    }

    [Fact]
    public void Each_key_has_its_own_interval()
    {
        var throttle = new LogThrottle(TimeSpan.FromSeconds(10), new FakeTimeProvider());

        Assert.True(throttle.Pass("forged", 1, out _));
        Assert.True(throttle.Pass("undecryptable", 3, out var other));
        Assert.Equal(3, other);
        Assert.False(throttle.Pass("forged", 1, out _));
    }
}
