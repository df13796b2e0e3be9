using Akka.Actor;
using Akka.Pattern;

namespace PresenceActors.Cluster;

/// <summary>
/// A cluster singleton that comes back after it stopped on a failure: a persistent actor stops when a journal write or
/// its recovery fails (the database away), and a singleton that stopped stays gone until its node leaves. Wrapped in a
/// back-off supervisor it starts again after 1 s, doubling to 30 s while it keeps failing, and recovers from the
/// journal. Messages sent while it is down reach nobody; their askers time out and the internal API answers 503
/// (docs/decisions.md, "Supervised singletons").
/// </summary>
public static class SupervisedSingleton
{
    public static readonly TimeSpan MinBackoff = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    public static Props Props(Props singleton, string name) =>
        BackoffSupervisor.Props(singleton, name, MinBackoff, MaxBackoff, randomFactor: 0.2);
}
