using System.Collections.Immutable;
using Akka.Actor;
using Akka.TestKit;
using PresenceActors.Registration;
using PresenceActors.Subscriptions;
using PresenceActors.Tests.Support;
using PresenceActors.Users;
using Xunit;
using static PresenceActors.Registration.UserRegistryCommands;

namespace PresenceActors.Tests.Registration;

/// <summary>The registry on a real SQLite journal, with probes in place of the users' region and the pool.</summary>
public class UserRegistryActorTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_burst_of_registrations_is_answered_after_journaling_checked_against_itself_and_recovered_whole()
    {
        using var db = new TempDatabase();
        var expected = new Dictionary<string, string>();

        await using (var node = await TestNode.StartAsync(db.Path, new RecordingFrontEnd(), new RecordingTeams()))
        {
            var kit = node.Kit;
            var users = kit.CreateTestProbe();
            var pool = kit.CreateTestProbe();
            var registry = node.System.ActorOf(Props.Create(() => new UserRegistryActor(users.Ref, pool.Ref)), "registry-burst-1");

            // 1,200 users at once, plus within the same burst: a second UC user for a taken Teams user, a UC user
            // pointed at another Teams user, the same registration twice, and one removed again.
            const int count = 1_200;
            for (var i = 0; i < count; i++)
                registry.Tell(new Register(new UserMapping($"uc-{i}", $"t-{i}", $"u{i}@contoso.test")), kit.TestActor);
            registry.Tell(new Register(new UserMapping("uc-intruder", "t-7", "u7@contoso.test")), kit.TestActor);
            registry.Tell(new Register(new UserMapping("uc-3", "t-moved", "moved@contoso.test")), kit.TestActor);
            registry.Tell(new Register(new UserMapping("uc-5", "t-5", "u5@contoso.test")), kit.TestActor);
            registry.Tell(new Unregister("uc-9"), kit.TestActor);

            var replies = new List<object>();
            for (var i = 0; i < count + 4; i++)
                replies.Add(kit.ExpectMsg<object>(Wait));
            var registered = replies.OfType<RegisterResult>().ToList();
            Assert.Equal(count + 1, registered.Count(r => r.Outcome == RegistrationOutcome.Registered));
            var conflict = Assert.Single(registered, r => r.Outcome == RegistrationOutcome.Conflict);
            Assert.Equal(("uc-7", "t-7"), (conflict.ConflictingUcUserId, conflict.Mapping.TeamsUserId)); // the mapping in the way
            Assert.Equal("uc-5", Assert.Single(registered, r => r.Outcome == RegistrationOutcome.Unchanged).Mapping.UcUserId);
            Assert.Equal("t-9", Assert.Single(replies.OfType<LookupResult>()).Mapping?.TeamsUserId);

            for (var i = 0; i < count; i++)
                expected[$"uc-{i}"] = $"t-{i}";
            expected["uc-3"] = "t-moved";
            expected.Remove("uc-9");

            // The pool is asked to watch everyone registered, in a few messages rather than one per user; t-3 (left
            // by uc-3) and t-9 (removed) end unwatched.
            var watched = new HashSet<string>();
            var unwatched = new HashSet<string>();
            var poolMessages = 0;
            await kit.AwaitAssertAsync(() =>
            {
                while (pool.HasMessages)
                {
                    poolMessages++;
                    switch (pool.ReceiveOne(TimeSpan.Zero))
                    {
                        case SubscriptionPoolCommands.WatchUsers w:
                            unwatched.ExceptWith(w.UserIds);
                            watched.UnionWith(w.UserIds);
                            break;
                        case SubscriptionPoolCommands.UnwatchUsers u:
                            watched.ExceptWith(u.UserIds);
                            unwatched.UnionWith(u.UserIds);
                            break;
                    }
                }

                Assert.Equal(expected.Values.Order(), watched.Order());
            }, Wait);
            Assert.Contains("t-3", unwatched);
            Assert.Contains("t-9", unwatched);
            Assert.True(poolMessages < count / 10, $"{poolMessages} messages to the pool for {count} registrations");

            // No registration started a user's actor (lazy: docs/scale.md): the links told were told before the answers,
            // and they are only uc-5's, registered again (which links again), and the unlinks of the two that left.
            var links = new List<object>();
            while (users.HasMessages)
                links.Add(users.ReceiveOne(TimeSpan.Zero)!);
            Assert.Equal(["t-5"], links.OfType<UserPresenceCommands.LinkUser>().Select(l => l.UserId));
            Assert.Equal(["t-3", "t-9"], links.OfType<UserPresenceCommands.UnlinkUser>().Select(u => u.UserId).Order());
            Assert.Equal(3, links.Count);

            // An actor without a link asks on its first event (it tells its link: none) and is sent the registered one,
            // to be confirmed like any link; one that linked itself to a UC user no longer registered is unlinked.
            registry.Tell(new UserPresenceCommands.LinkState("t-42", null), users.Ref);
            var asked = users.ExpectMsg<UserPresenceCommands.LinkUser>(Wait);
            Assert.Equal(("t-42", "uc-42", true), (asked.UserId, asked.UcUserId, asked.Acknowledge));
            registry.Tell(new UserPresenceCommands.LinkState("t-stray", "uc-stray"), users.Ref);
            Assert.Equal(("t-stray", true), users.ExpectMsg<UserPresenceCommands.UnlinkUser>(Wait) is var u ? (u.UserId, u.Acknowledge) : default);
            // Gone as in a crash: what it answered was journaled, and that is all the next node has.
            await node.CrashAsync();
        }

        await using (var node = await TestNode.StartAsync(db.Path, new RecordingFrontEnd(), new RecordingTeams()))
        {
            var kit = node.Kit;
            var registry = node.System.ActorOf(Props.Create(() => new UserRegistryActor(kit.CreateTestProbe().Ref, kit.CreateTestProbe().Ref)), "registry-burst-2");
            var list = await registry.AllMappingsAsync(Wait);
            Assert.Equal(expected.OrderBy(e => e.Key), list.Select(m => KeyValuePair.Create(m.UcUserId, m.TeamsUserId)).OrderBy(e => e.Key));
            // Asked page by page: 1,200 mappings do not come in one message, and a page fits in one remoting frame.
            var first = await registry.Ask<MappingList>(new ListMappings(), Wait);
            Assert.NotNull(first.Next);
            Assert.True(new RegistrationSerializer((ExtendedActorSystem)node.System).ToBinary(first).Length < 128_000);

            // The recovered registry still knows who owns what.
            registry.Tell(new Register(new UserMapping("uc-other", "t-moved", "moved@contoso.test")), kit.TestActor);
            Assert.Equal("uc-3", kit.ExpectMsg<RegisterResult>(Wait).ConflictingUcUserId);
            registry.Tell(new Register(new UserMapping("uc-other", "t-3", "u3@contoso.test")), kit.TestActor);
            Assert.Equal(RegistrationOutcome.Registered, kit.ExpectMsg<RegisterResult>(Wait).Outcome);
        }
    }

    [Fact]
    public async Task Links_are_sent_again_until_confirmed_and_a_restarted_registry_sends_again_only_the_unconfirmed()
    {
        using var db = new TempDatabase();
        var interval = UserRegistryActor.ResendLinksEvery;
        await using (var node = await TestNode.StartAsync(db.Path, new RecordingFrontEnd(), new RecordingTeams()))
        {
            var kit = node.Kit;
            var users = kit.CreateTestProbe();
            var registry = node.System.ActorOf(Props.Create(() => new UserRegistryActor(users.Ref, kit.CreateTestProbe().Ref)), "registry-links-1");
            registry.Tell(new Register(new UserMapping("uc-a", "t-a", "a@contoso.test")), kit.TestActor);
            registry.Tell(new Register(new UserMapping("uc-b", "t-b", "b@contoso.test")), kit.TestActor);
            kit.ExpectMsg<RegisterResult>(Wait);
            kit.ExpectMsg<RegisterResult>(Wait);
            // Both actors had linked themselves (a first event each); then both users are removed: two journaled unlinks.
            registry.Tell(new UserPresenceCommands.LinkState("t-a", "uc-a"), users.Ref);
            registry.Tell(new UserPresenceCommands.LinkState("t-b", "uc-b"), users.Ref);
            registry.Tell(new Unregister("uc-a"), kit.TestActor);
            registry.Tell(new Unregister("uc-b"), kit.TestActor);
            kit.ExpectMsg<LookupResult>(Wait);
            kit.ExpectMsg<LookupResult>(Wait);
            Assert.Equal(["t-a", "t-b"], users.ReceiveN(2, Wait).Cast<UserPresenceCommands.UnlinkUser>().Select(l => l.UserId).Order());

            // t-a's actor confirms; t-b's never answers (its node died with the message): the production interval later,
            // only t-b's unlink is sent again, and again.
            registry.Tell(new UserPresenceCommands.LinkState("t-a", null), users.Ref);
            Assert.Equal("t-b", users.ExpectMsg<UserPresenceCommands.UnlinkUser>(interval + Wait).UserId);
            Assert.Equal("t-b", users.ExpectMsg<UserPresenceCommands.UnlinkUser>(interval + Wait).UserId);
            // An answer for another UC user (an older request) confirms nothing.
            registry.Tell(new UserPresenceCommands.LinkState("t-b", "uc-old"), users.Ref);
            await kit.AwaitAssertAsync(async () => Assert.Equal(1, (await registry.Ask<UnconfirmedLinks>(new GetUnconfirmedLinks(), Wait)).Count), Wait);
            // Gone as in a crash: what it answered was journaled, and that is all the next node has.
            await node.CrashAsync();
        }

        await using (var node = await TestNode.StartAsync(db.Path, new RecordingFrontEnd(), new RecordingTeams()))
        {
            var kit = node.Kit;
            var users = kit.CreateTestProbe();
            var registry = node.System.ActorOf(Props.Create(() => new UserRegistryActor(users.Ref, kit.CreateTestProbe().Ref)), "registry-links-2");
            // Recovered: t-b's unlink, never confirmed, is sent at once; t-a's was confirmed and journaled, and is not.
            var resent = users.ExpectMsg<UserPresenceCommands.UnlinkUser>(Wait);
            Assert.Equal(("t-b", true), (resent.UserId, resent.Acknowledge));
            registry.Tell(new UserPresenceCommands.LinkState("t-b", null), users.Ref);
            await kit.AwaitAssertAsync(async () => Assert.Equal(0, (await registry.Ask<UnconfirmedLinks>(new GetUnconfirmedLinks(), Wait)).Count), Wait);
            // Everything confirmed (the registry said so): a whole interval passes without a link sent again.
            users.ExpectNoMsg(interval + TimeSpan.FromSeconds(1));

            // Registering starts no actor; registering the same mapping again links the user's actor again (a way out).
            registry.Tell(new Register(new UserMapping("uc-a", "t-a", "a@contoso.test")), kit.TestActor);
            Assert.Equal(RegistrationOutcome.Registered, kit.ExpectMsg<RegisterResult>(Wait).Outcome);
            Assert.False(users.HasMessages); // a link would have been told before the answer
            registry.Tell(new Register(new UserMapping("uc-a", "t-a", "a@contoso.test")), kit.TestActor);
            Assert.Equal(RegistrationOutcome.Unchanged, kit.ExpectMsg<RegisterResult>(Wait).Outcome);
            Assert.Equal(("t-a", "uc-a"), users.ExpectMsg<UserPresenceCommands.LinkUser>(Wait) is var l ? (l.UserId, l.UcUserId) : default);
        }
    }

    [Fact]
    public async Task Pages_of_the_longest_mappings_fit_one_remoting_frame_and_cover_every_mapping_once()
    {
        using var db = new TempDatabase();
        await using var node = await TestNode.StartAsync(db.Path, new RecordingFrontEnd(), new RecordingTeams());
        var serializer = new RegistrationSerializer((ExtendedActorSystem)node.System);
        // The longest a mapping may be (256 characters each, all of them escaped in JSON) and ordinary ones, mixed.
        var mappings = Enumerable.Range(0, 3_000)
            .Select(i => i % 3 == 0
                ? new UserMapping($"{i:D6}" + new string('é', 250), Guid.NewGuid().ToString(), $"{i:D6}" + new string('<', 240) + "@contoso.test")
                : new UserMapping($"uc-{i:D6}", Guid.NewGuid().ToString(), $"u{i}@contoso.test"))
            .OrderBy(m => m.UcUserId, StringComparer.Ordinal).ToImmutableArray();
        var seen = new List<string>();
        string? after = null;
        do
        {
            var page = RegistryPages.Page(mappings, after);
            Assert.NotEmpty(page.Mappings);
            Assert.True(serializer.ToBinary(page).Length < 128_000, $"a page of {page.Mappings.Length} is {serializer.ToBinary(page).Length} bytes");
            seen.AddRange(page.Mappings.Select(m => m.UcUserId));
            after = page.Next;
        }
        while (after is not null);

        Assert.Equal(mappings.Select(m => m.UcUserId), seen);
    }

    [Fact]
    public async Task Snapshots_carry_unconfirmed_links_and_a_snapshot_of_the_previous_version_still_reads()
    {
        using var db = new TempDatabase();
        await using var node = await TestNode.StartAsync(db.Path, new RecordingFrontEnd(), new RecordingTeams());
        var snapshot = new RegistrySnapshot([new UserMapping("uc-a", "t-a", "a@contoso.test")], [new PendingLink("t-a", "uc-a"), new PendingLink("t-gone", null)]);
        var serializer = new RegistrationSerializer((ExtendedActorSystem)node.System);
        var manifest = serializer.Manifest(snapshot);
        var copy = (RegistrySnapshot)serializer.FromBinary(serializer.ToBinary(snapshot), manifest);
        Assert.Equal(snapshot.Mappings.ToArray(), copy.Mappings.ToArray());
        Assert.Equal(snapshot.Unconfirmed!.Value.ToArray(), copy.Unconfirmed!.Value.ToArray());

        var withOptOuts = new RegistrySnapshot(snapshot.Mappings, snapshot.Unconfirmed, ["uc-a"]);
        Assert.Equal(["uc-a"], ((RegistrySnapshot)serializer.FromBinary(serializer.ToBinary(withOptOuts), manifest)).OptedOut!.Value.ToArray());
        foreach (var e in new IUserRegistryMessage[] { new UserOptedOut("uc-a", "ctl from 127.0.0.1"), new UserOptedIn("uc-a", "internal API") })
            Assert.Equal(e, serializer.FromBinary(serializer.ToBinary(e), serializer.Manifest(e)));

        // Written before links were confirmed: no pending links, every mapping as it was.
        var older = (RegistrySnapshot)serializer.FromBinary(
            """{"Mappings":[{"UcUserId":"uc-a","TeamsUserId":"t-a","UserPrincipalName":"a@contoso.test"}]}"""u8.ToArray(), manifest);
        Assert.Equal(snapshot.Mappings.ToArray(), older.Mappings.ToArray());
        Assert.Null(older.Unconfirmed);
    }

    [Fact]
    public async Task An_opted_out_user_is_unlinked_and_unwatched_stays_out_through_reregistration_and_restart_and_comes_back_on_opt_in()
    {
        using var db = new TempDatabase();
        await using var node = await TestNode.StartAsync(db.Path, new RecordingFrontEnd(), new RecordingTeams());
        var kit = node.Kit;
        var users = kit.CreateTestProbe();
        var pool = kit.CreateTestProbe();
        var registry = node.System.ActorOf(Props.Create(() => new UserRegistryActor(users.Ref, pool.Ref)), "registry-opt-1");
        registry.Tell(new Register(new UserMapping("uc-o", "t-o", "o@contoso.test")), kit.TestActor);
        kit.ExpectMsg<RegisterResult>(Wait);
        // Its actor's first event: it asks for its link and confirms it.
        registry.Tell(new UserPresenceCommands.LinkState("t-o", null), users.Ref);
        Assert.Equal("uc-o", users.FishForMessage<UserPresenceCommands.LinkUser>(_ => true, Wait).UcUserId);
        registry.Tell(new UserPresenceCommands.LinkState("t-o", "uc-o"), users.Ref);
        pool.FishForMessage<SubscriptionPoolCommands.WatchUsers>(w => w.UserIds.Contains("t-o"), Wait);

        // Out: answered once journaled, the user's actor unlinked (until it confirms) and the pool told to let go.
        registry.Tell(new SetSynchronised("uc-o", false, "test"), kit.TestActor);
        Assert.False(kit.ExpectMsg<SyncSetting>(Wait).Synchronised);
        Assert.Equal("t-o", users.FishForMessage<UserPresenceCommands.UnlinkUser>(_ => true, Wait).UserId);
        pool.FishForMessage<SubscriptionPoolCommands.UnwatchUsers>(u => u.UserIds.Contains("t-o"), Wait);
        // The actor's answer, and right behind it (before the answer is journaled) the actor linking itself from a UC
        // report looked up before the opt-out: the answer no longer holds, and the unlink is sent again at once.
        registry.Tell(new UserPresenceCommands.LinkState("t-o", null), users.Ref);
        registry.Tell(new UserPresenceCommands.LinkState("t-o", "uc-o"), users.Ref);
        Assert.Equal("t-o", users.FishForMessage<UserPresenceCommands.UnlinkUser>(_ => true, Wait).UserId);
        Assert.Equal(1, (await registry.Ask<UnconfirmedLinks>(new GetUnconfirmedLinks(), Wait)).Count);
        registry.Tell(new UserPresenceCommands.LinkState("t-o", null), users.Ref);
        await kit.AwaitAssertAsync(async () => Assert.Equal(0, (await registry.Ask<UnconfirmedLinks>(new GetUnconfirmedLinks(), Wait)).Count), Wait);

        // The UC back end registers the user again: registered, not linked again.
        registry.Tell(new Register(new UserMapping("uc-o", "t-o", "o@contoso.test")), kit.TestActor);
        Assert.Equal(RegistrationOutcome.Unchanged, kit.ExpectMsg<RegisterResult>(Wait).Outcome);
        Assert.Equal(["uc-o"], (await registry.Ask<OptedOutUsers>(new ListOptedOut(), Wait)).UcUserIds.ToArray());
        // A link would have been told to the users' probe before the answer was (both from the registry, in that order).
        Assert.False(users.HasMessages);

        // A new incarnation (recovered from the journal) still has them out and asks the pool to watch nobody.
        await registry.GracefulStop(Wait);
        var recovered = node.System.ActorOf(Props.Create(() => new UserRegistryActor(users.Ref, pool.Ref)), "registry-opt-2");
        Assert.False((await recovered.Ask<SyncSetting>(new GetSynchronised("uc-o"), Wait)).Synchronised);
        var watch = pool.FishForMessage<SubscriptionPoolCommands.WatchUsers>(_ => true, Wait);
        Assert.DoesNotContain("t-o", watch.UserIds);

        // In again: linked and watched.
        recovered.Tell(new SetSynchronised("uc-o", true, "test"), kit.TestActor);
        Assert.True(kit.ExpectMsg<SyncSetting>(Wait).Synchronised);
        Assert.Equal("uc-o", users.FishForMessage<UserPresenceCommands.LinkUser>(_ => true, Wait).UcUserId);
        pool.FishForMessage<SubscriptionPoolCommands.WatchUsers>(w => w.UserIds.Contains("t-o"), Wait);

        // Unknown UC users are not registered: nothing to opt out.
        recovered.Tell(new SetSynchronised("uc-nobody", false, "test"), kit.TestActor);
        Assert.Null(kit.ExpectMsg<SyncSetting>(Wait).Mapping);
    }
}
