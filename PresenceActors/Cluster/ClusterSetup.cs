using Akka.Actor;
using Akka.Event;
using Akka.Cluster.Hosting;
using Akka.Cluster.Hosting.SBR;
using Akka.Hosting;
using Akka.Remote.Hosting;

namespace PresenceActors.Cluster;

public static class ClusterSetup
{
    /// <summary>Remoting plus cluster membership; with no seed nodes the node joins itself (the embedded default).</summary>
    public static AkkaConfigurationBuilder WithPresenceCluster(this AkkaConfigurationBuilder builder, PresenceClusterOptions options)
    {
        builder
            .WithRemoting(new RemoteOptions
            {
                HostName = options.Hostname,
                Port = options.Port,
                PublicHostName = options.AdvertisedHostname,
                PublicPort = options.AdvertisedPort,
            })
            .WithClustering(new ClusterOptions
            {
                SeedNodes = options.SeedNodes.ToArray(),
                SplitBrainResolver = new KeepMajorityOption(),
                Roles = options.Capabilities.ToArray(),
            });
        // Fail-over timings (docs/decisions.md, "Fail-over timings"): Akka's defaults (a 3 s pause, stable-after 20 s, a
        // removal margin equal to stable-after) kept a dead node's users waiting about 45 s. Heartbeats every 500 ms, the
        // detector read every 250 ms, and gossip and the leader's actions every 250 ms take more off; for 3 to 10 nodes
        // that traffic is a few small messages a second. Heartbeats stay at 500 ms: Akka warns of a delayed heartbeat
        // after twice the interval, and a 500 ms stall is common on a busy node. A node without seed nodes runs alone (the
        // sandbox, a single node): it has nobody to send heartbeats to, so it keeps Akka's 1 s, whose "heartbeat was
        // delayed" warning waits for a 2 s stall instead of 1 s (a starting sandbox on a busy machine warned about a
        // failure detector it does not use).
        var heartbeat = options.SeedNodes.Count > 0 ? 500 : 1000;
        builder.AddHocon(string.Create(System.Globalization.CultureInfo.InvariantCulture, $$"""
            akka.cluster.failure-detector.acceptable-heartbeat-pause = {{options.HeartbeatPause.TotalMilliseconds}}ms
            akka.cluster.split-brain-resolver.stable-after = {{options.StableAfter.TotalMilliseconds}}ms
            akka.cluster.down-removal-margin = {{options.DownRemovalMargin.TotalMilliseconds}}ms
            akka.cluster.failure-detector.heartbeat-interval = {{heartbeat}}ms
            akka.cluster.unreachable-nodes-reaper-interval = 250ms
            akka.cluster.gossip-interval = 250ms
            akka.cluster.leader-actions-interval = 250ms
            """), HoconAddMode.Prepend);
        if (options.SeedNodes.Count > 0)
        {
            // A node that cannot reach its seed nodes gives up instead of waiting forever, so that a supervisor restarts it.
            // (Only with seed nodes: the setting would also end a self-joined node after 30 s.)
            builder.AddHocon("akka.cluster.shutdown-after-unsuccessful-join-seed-nodes = 30s", HoconAddMode.Prepend);
            // The first seed node joins itself when the other seeds do not answer within 5 s: restarted while they are busy
            // (handing off shards, recovering actors), it forms a cluster of its own beside the real one, with its own
            // singletons and a second copy of users' actors writing to the same journal. No member becomes Up before the
            // cluster has as many members as a majority of the seed list (Akka counts members, not seed nodes; with every
            // node in the list, as the operator guide asks, that is a majority of the nodes), so such an island holds no
            // shards and no singleton.
            builder.AddHocon($"akka.cluster.min-nr-of-members = {MajorityOf(options.SeedNodes.Count)}", HoconAddMode.Prepend);
            builder.AddStartup((system, _) => LeaveIfNotUpWithin(system, options.UpWithin, options.SeedNodes.Count));
        }
        else
        {
            builder.AddStartup(async (system, _) =>
            {
                var cluster = Akka.Cluster.Cluster.Get(system);
                await cluster.JoinAsync(cluster.SelfAddress);
            });
        }

        return builder;
    }

    /// <summary>
    /// The operator's hocon/cluster.hocon beside the program, when there is one: over the defaults Akka.Hosting brings, or
    /// they would not count.
    /// </summary>
    public static AkkaConfigurationBuilder WithClusterHocon(this AkkaConfigurationBuilder builder)
    {
        var hocon = Path.Combine(AppContext.BaseDirectory, "hocon", "cluster.hocon");
        return File.Exists(hocon) ? builder.AddHoconFile(hocon, HoconAddMode.Prepend) : builder;
    }

    /// <summary>The Up members, oldest first: the first is where the cluster singletons run.</summary>
    public static List<Akka.Cluster.Member> UpByAge(Akka.Cluster.ClusterEvent.CurrentClusterState state) =>
        state.Members.Where(m => m.Status == Akka.Cluster.MemberStatus.Up).OrderBy(m => m, Akka.Cluster.Member.AgeOrdering).ToList();

    /// <summary>Members a cluster needs before any becomes Up: a majority of the seed list's length.</summary>
    public static int MajorityOf(int seedNodes) => seedNodes / 2 + 1;

    /// <summary>
    /// A node not Up by the deadline shuts down (the process exits with code 3, as after an unsuccessful join) so that its
    /// supervisor starts it again and it joins the real cluster.
    /// </summary>
    private static void LeaveIfNotUpWithin(ActorSystem system, TimeSpan deadline, int seedNodes)
    {
        var cluster = Akka.Cluster.Cluster.Get(system);
        var up = 0;
        cluster.RegisterOnMemberUp(() => Interlocked.Exchange(ref up, 1));
        system.Scheduler.Advanced.ScheduleOnce(deadline, () =>
        {
            if (Volatile.Read(ref up) == 1 || system.WhenTerminated.IsCompleted)
                return;
            system.Log.Error("cluster-not-formed: this node is {0} with {1} member(s) {2} s after it started; a cluster needs {3} members (a majority of the {4} seed nodes). " +
                             "Shutting down so that the supervisor starts it again and it joins the others.",
                cluster.SelfMember.Status, cluster.State.Members.Count, (int)deadline.TotalSeconds, MajorityOf(seedNodes), seedNodes);
            CoordinatedShutdown.Get(system).Run(CoordinatedShutdown.ClusterJoinUnsuccessfulReason.Instance);
        });
    }
}
