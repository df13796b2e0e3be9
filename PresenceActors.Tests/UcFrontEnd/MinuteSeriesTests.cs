using Microsoft.Extensions.Time.Testing;
using PresenceActors.UcFrontEnd;
using Xunit;

namespace PresenceActors.Tests.UcFrontEnd;

/// <summary>The status page's last hour: per-minute counts, rates and latency percentiles, an hour and no more.</summary>
public class MinuteSeriesTests
{
    [Fact]
    public void Each_minute_counts_its_own_events_and_the_hour_forgets_what_is_older()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 12, 1, 10, 0, 0, TimeSpan.Zero));
        var series = new MinuteSeries(clock);
        series.Count(120);                           // 10:00
        clock.Advance(TimeSpan.FromMinutes(1));
        for (var ms = 1; ms <= 100; ms++)             // 10:01: 100 updates, 1..100 ms
            series.Latency(ms);
        clock.Advance(TimeSpan.FromSeconds(90));      // 10:02:30, a minute under way
        series.Count(15);

        var hour = series.LastHour();
        Assert.Equal(60, hour.Count);
        Assert.Equal(new DateTimeOffset(2026, 12, 1, 10, 2, 0, TimeSpan.Zero), hour[^1].Minute);
        Assert.Equal((120L, 2.0), (hour[^3].Count, hour[^3].PerSecond));
        Assert.Null(hour[^3].P50);
        Assert.Equal((100L, 50.0, 99.0), (hour[^2].Count, hour[^2].P50!.Value, hour[^2].P99!.Value));
        Assert.Equal((15L, 0.5), (hour[^1].Count, hour[^1].PerSecond)); // 15 in the 30 s this minute has had
        Assert.All(hour.Take(57), p => Assert.Equal(0, p.Count));

        // An hour on, 10:00's bucket is reused for 11:00 and starts empty.
        clock.Advance(TimeSpan.FromMinutes(58));      // 11:00:30
        series.Count();
        hour = series.LastHour();
        Assert.Equal(1, hour[^1].Count);
        Assert.Equal(100 + 15 + 1, hour.Sum(p => p.Count)); // 10:01 to 11:00
        Assert.DoesNotContain(hour, p => p.Count == 120);
    }

    [Fact]
    public void A_busy_minute_keeps_a_bounded_sample_of_its_latencies()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 12, 1, 10, 0, 0, TimeSpan.Zero));
        var series = new MinuteSeries(clock);
        for (var i = 0; i < 100_000; i++)
            series.Latency(i % 2 == 0 ? 10 : 1_000);

        var minute = series.LastHour()[^1];
        Assert.Equal(100_000, minute.Count);
        Assert.Equal(1_000, minute.P99);
        Assert.Contains(minute.P50, new double?[] { 10, 1_000 });
    }
}
