namespace PresenceActors.UcFrontEnd;

/// <summary>
/// The last few thousand sync latencies (decision to front-end acknowledgement) for the status page: percentiles of
/// what just happened, where the OpenTelemetry histogram gives the long view.
/// </summary>
public sealed class RecentLatencies(int capacity = 4096)
{
    private readonly double[] _samples = new double[capacity];
    private long _count;

    public void Record(double milliseconds)
    {
        lock (_samples)
        {
            _samples[_count % _samples.Length] = milliseconds;
            _count++;
        }
    }

    public long Count
    {
        get
        {
            lock (_samples)
                return _count;
        }
    }

    /// <summary>p50, p99 and the maximum of the samples kept; null before the first one.</summary>
    public (double P50, double P99, double Max, int Samples)? Summary()
    {
        double[] copy;
        lock (_samples)
            copy = _samples[..(int)Math.Min(_count, _samples.Length)];
        if (copy.Length == 0)
            return null;
        Array.Sort(copy);
        return (Percentile(copy, 0.50), Percentile(copy, 0.99), copy[^1], copy.Length);
    }

    /// <summary>The nearest-rank <paramref name="quantile"/> of sorted values (NaN when there are none).</summary>
    public static double Percentile(double[] sorted, double quantile) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(quantile * sorted.Length) - 1, 0, sorted.Length - 1)];
}
