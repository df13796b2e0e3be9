using System.Diagnostics.Metrics;

namespace PresenceActors;

/// <summary>
/// A meter factory for a component used outside a node (the command line's doctor, a test's lone actor): its meters are
/// its own, reported to no exporter unless one listens, and disposed with it. A node uses the host's factory.
/// </summary>
public sealed class OwnMeters : IMeterFactory
{
    private readonly List<Meter> _meters = [];

    public Meter Create(MeterOptions options)
    {
        var meter = new Meter(options);
        lock (_meters)
            _meters.Add(meter);
        return meter;
    }

    public void Dispose()
    {
        lock (_meters)
        {
            foreach (var meter in _meters)
                meter.Dispose();
            _meters.Clear();
        }
    }
}
