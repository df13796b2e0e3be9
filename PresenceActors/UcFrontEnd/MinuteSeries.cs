namespace PresenceActors.UcFrontEnd;

/// <summary>One minute of a <see cref="MinuteSeries"/>: events in it, their rate, and latency percentiles when recorded.</summary>
public sealed record MinutePoint(DateTimeOffset Minute, long Count, double PerSecond, double? P50, double? P99);

/// <summary>
/// The last hour minute by minute, for the status page's charts: how many events (notifications, UC updates) and, where
/// recorded, their latencies (a bounded sample per minute). The minute under way counts for the seconds it has had.
/// </summary>
public sealed class MinuteSeries(TimeProvider? clock = null)
{
    private const int Minutes = 60;
    private const int SamplesPerMinute = 512;
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    private readonly Bucket[] _buckets = Enumerable.Range(0, Minutes).Select(_ => new Bucket()).ToArray();

    public void Count(long events = 1) => Update(bucket => bucket.Count += events);

    /// <summary>One event with its latency.</summary>
    public void Latency(double milliseconds) => Update(bucket =>
    {
        bucket.Count++;
        // Reservoir sampling: every latency of the minute has the same chance to be among the samples kept.
        var seen = bucket.LatencySeen++;
        if (seen < SamplesPerMinute)
            bucket.Samples[seen] = milliseconds;
        else if (Random.Shared.NextInt64(seen + 1) is var slot && slot < SamplesPerMinute)
            bucket.Samples[slot] = milliseconds;
    });

    /// <summary>The 60 minutes up to now, oldest first; minutes without events count zero and have no percentiles.</summary>
    public IReadOnlyList<MinutePoint> LastHour()
    {
        var now = _clock.GetUtcNow();
        var minute = MinuteOf(now);
        var points = new List<MinutePoint>(Minutes);
        for (var m = minute - Minutes + 1; m <= minute; m++)
        {
            var start = DateTimeOffset.FromUnixTimeSeconds(m * 60);
            var seconds = m == minute ? Math.Max(1, (now - start).TotalSeconds) : 60;
            var bucket = _buckets[m % Minutes];
            long count;
            double[] samples;
            lock (bucket)
            {
                if (bucket.Minute != m)
                {
                    points.Add(new MinutePoint(start, 0, 0, null, null));
                    continue;
                }

                count = bucket.Count;
                samples = bucket.Samples[..(int)Math.Min(bucket.LatencySeen, SamplesPerMinute)];
            }

            Array.Sort(samples);
            points.Add(new MinutePoint(start, count, count / seconds,
                samples.Length == 0 ? null : RecentLatencies.Percentile(samples, 0.50),
                samples.Length == 0 ? null : RecentLatencies.Percentile(samples, 0.99)));
        }

        return points;
    }

    private static long MinuteOf(DateTimeOffset at) => at.ToUnixTimeSeconds() / 60;

    /// <summary>Changes this minute's bucket under its lock, emptying it first when it last held the minute an hour ago.</summary>
    private void Update(Action<Bucket> change)
    {
        var minute = MinuteOf(_clock.GetUtcNow());
        var bucket = _buckets[minute % Minutes];
        lock (bucket)
        {
            if (bucket.Minute != minute)
            {
                bucket.Minute = minute;
                bucket.Count = 0;
                bucket.LatencySeen = 0;
            }

            change(bucket);
        }
    }

    private sealed class Bucket
    {
        public readonly double[] Samples = new double[SamplesPerMinute];
        public long Minute = -1;
        public long Count;
        public long LatencySeen;
    }
}
