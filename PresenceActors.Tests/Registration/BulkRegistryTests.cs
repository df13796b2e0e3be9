using System.Collections.Immutable;
using Akka.Actor;
using PresenceActors.Registration;
using PresenceActors.Subscriptions;
using PresenceActors.Tests.Support;
using Xunit;
using static PresenceActors.Registration.UserRegistryCommands;

namespace PresenceActors.Tests.Registration;

/// <summary>The UC back end's full list in messages of thousands (docs/scale.md, "Registrations in batches"), on a real SQLite journal.</summary>
public class BulkRegistryTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_list_in_messages_of_thousands_is_journaled_in_a_few_rows_snapshotted_once_quiet_and_recovered_whole()
    {
        using var db = new TempDatabase();
        var expected = new Dictionary<string, string>();
        await using (var node = await TestNode.StartAsync(db.Path, new RecordingFrontEnd(), new RecordingTeams()))
        {
            var kit = node.Kit;
            var pool = kit.CreateTestProbe();
            var registry = node.System.ActorOf(Props.Create(() => new UserRegistryActor(kit.CreateTestProbe().Ref, pool.Ref)), "registry-bulk-1");
            for (var i = 0; i < 5_000; i++)
                expected[$"uc-{i:D5}"] = $"t-{i:D5}";

            // Three messages (2,000, 2,000 and 1,000), the last also naming a taken Teams user and one registered already.
            var mappings = expected.Select(e => new UserMapping(e.Key, e.Value, $"{e.Key}@contoso.test")).ToList();
            registry.Tell(new RegisterMany([.. mappings.Take(2_000)]), kit.TestActor);
            registry.Tell(new RegisterMany([.. mappings.Skip(2_000).Take(2_000)]), kit.TestActor);
            registry.Tell(new RegisterMany([.. mappings.Skip(4_000), new UserMapping("uc-intruder", "t-00007", "x@contoso.test"), mappings[5]]), kit.TestActor);
            var answers = Enumerable.Range(0, 3).Select(_ => kit.ExpectMsg<RegisteredMany>(Wait)).ToList();
            Assert.Equal([2_000, 2_000, 1_002], answers.Select(a => a.Outcomes.Length));
            Assert.All(answers[0].Outcomes.Concat(answers[1].Outcomes).Concat(answers[2].Outcomes.Take(1_000)), o => Assert.Equal(RegistrationOutcome.Registered, o));
            Assert.Equal((RegistrationOutcome.Conflict, "uc-00007"), (answers[2].Outcomes[1_000], answers[2].ConflictingUcUserIds[1_000]));
            Assert.Equal(RegistrationOutcome.Unchanged, answers[2].Outcomes[1_001]);

            // Removals in one message; an id never registered is not counted.
            registry.Tell(new UnregisterMany([.. Enumerable.Range(0, 1_500).Select(i => $"uc-{i * 2:D5}"), "uc-unknown"]), kit.TestActor);
            Assert.Equal(1_500, kit.ExpectMsg<UnregisteredMany>(Wait).Removed);
            for (var i = 0; i < 1_500; i++)
                expected.Remove($"uc-{i * 2:D5}");

            // The pool is told to watch the registered and let the removed go, in messages of thousands.
            var watched = new HashSet<string>();
            await kit.AwaitAssertAsync(() =>
            {
                while (pool.HasMessages)
                {
                    switch (pool.ReceiveOne(TimeSpan.Zero))
                    {
                        case SubscriptionPoolCommands.WatchUsers w:
                            Assert.InRange(w.UserIds.Length, 0, UserRegistryActor.PoolMessageUsers);
                            watched.UnionWith(w.UserIds);
                            break;
                        case SubscriptionPoolCommands.UnwatchUsers u:
                            watched.ExceptWith(u.UserIds);
                            break;
                    }
                }

                Assert.Equal(expected.Values.Order(), watched.Order());
            }, Wait);

            // 6,500 changes in a handful of rows (runs of up to 2,000 per event), and once the load is quiet for 5 s
            // one snapshot of them all; none while it went on (the writes were well under the 5 minutes apart).
            Assert.InRange(JournalRows(db.Path), 4, 10);
            await kit.AwaitAssertAsync(() => Assert.Equal(1L, SnapshotRows(db.Path)), Wait);
            await node.CrashAsync();
        }

        await using (var node = await TestNode.StartAsync(db.Path, new RecordingFrontEnd(), new RecordingTeams()))
        {
            var kit = node.Kit;
            var registry = node.System.ActorOf(Props.Create(() => new UserRegistryActor(kit.CreateTestProbe().Ref, kit.CreateTestProbe().Ref)), "registry-bulk-2");
            var list = await registry.AllMappingsAsync(Wait);
            Assert.Equal(expected.OrderBy(e => e.Key), list.Select(m => KeyValuePair.Create(m.UcUserId, m.TeamsUserId)).OrderBy(e => e.Key));
            registry.Tell(new RegisterMany([new UserMapping("uc-other", "t-00001", "o@contoso.test"), new UserMapping("uc-new", "t-00000", "n@contoso.test")]), kit.TestActor);
            Assert.Equal([RegistrationOutcome.Conflict, RegistrationOutcome.Registered], kit.ExpectMsg<RegisteredMany>(Wait).Outcomes.ToArray());
        }
    }

    [Fact]
    public async Task While_a_member_does_not_understand_batched_events_each_registration_is_its_own_event()
    {
        // A rolling upgrade: a member of the previous release (here the node itself, advertising nothing) could recover
        // the registry, and it reads single events only.
        using var db = new TempDatabase();
        await using (var node = await TestNode.StartAsync(db.Path, new RecordingFrontEnd(), new RecordingTeams(), capabilities: []))
        {
            var kit = node.Kit;
            var registry = node.System.ActorOf(Props.Create(() => new UserRegistryActor(kit.CreateTestProbe().Ref, kit.CreateTestProbe().Ref)), "registry-old-1");
            for (var i = 0; i < 300; i++)
                registry.Tell(new Register(new UserMapping($"uc-{i}", $"t-{i}", $"u{i}@contoso.test")), kit.TestActor);
            for (var i = 0; i < 300; i++)
                Assert.Equal(RegistrationOutcome.Registered, kit.ExpectMsg<RegisterResult>(Wait).Outcome);
            Assert.Equal(300, JournalRows(db.Path));
            Assert.DoesNotContain(Manifests(db.Path), m => m.Contains("many", StringComparison.Ordinal));
            await node.CrashAsync();
        }

        await using (var node = await TestNode.StartAsync(db.Path, new RecordingFrontEnd(), new RecordingTeams()))
        {
            var kit = node.Kit;
            var registry = node.System.ActorOf(Props.Create(() => new UserRegistryActor(kit.CreateTestProbe().Ref, kit.CreateTestProbe().Ref)), "registry-old-2");
            Assert.Equal(300, (await registry.AllMappingsAsync(Wait)).Count);
        }
    }

    [Fact]
    public void Chunks_hold_at_most_the_count_and_the_weight_asked_and_every_item_once_in_order()
    {
        var items = Enumerable.Range(0, 10_000).Select(i => i % 7 == 0 ? new string('é', 300) : $"uc-{i}").ToList();
        var chunks = RegistryPages.Chunks(items, RegistryPages.Escaped, 100_000, 2_000).ToList();
        Assert.All(chunks, c => Assert.InRange(c.Length, 1, 2_000));
        Assert.All(chunks, c => Assert.InRange(c.Sum(RegistryPages.Escaped), 1, 100_000));
        Assert.Equal(items, chunks.SelectMany(c => c));
        Assert.Equal([["é"], ["x"]], RegistryPages.Chunks(["é", "x"], _ => 10, 15, 5).Select(c => c.ToArray()).ToArray());
    }

    private static long JournalRows(string file) => (long)Query(file, "SELECT COUNT(*) FROM journal WHERE persistence_id = 'user-registry'")[0];

    private static long SnapshotRows(string file) => (long)Query(file, "SELECT COUNT(*) FROM snapshot WHERE persistence_id = 'user-registry'")[0];

    private static List<string> Manifests(string file) =>
        [.. Query(file, "SELECT DISTINCT manifest FROM journal WHERE persistence_id = 'user-registry'").Cast<string>()];

    /// <summary>The first column of every row the query gives, read from the journal's SQLite file.</summary>
    private static List<object> Query(string file, string sql)
    {
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={file}");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var values = new List<object>();
        while (reader.Read())
            values.Add(reader.GetValue(0));
        return values;
    }
}
