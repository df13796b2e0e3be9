using Akka.Actor;
using PresenceActors.Persistence;
using PresenceActors.Tests.Support;
using PresenceActors.Users;
using Xunit;
using static PresenceActors.Users.UserPresenceCommands;

namespace PresenceActors.Tests.Persistence;

/// <summary>How the journal writes on SQLite (docs/decisions.md, "The journal's transactions on SQLite").</summary>
public class JournalTransactionsTests
{
    [Fact]
    public async Task Changes_of_many_users_at_once_share_the_journals_transactions_on_sqlite()
    {
        using var db = new TempDatabase();
        await using var node = await TestNode.StartAsync(db.Path, new RecordingFrontEnd(), new RecordingTeams());
        var users = Enumerable.Range(1, 100).Select(i => $"many-{i}").ToList();
        foreach (var user in users)
            node.Users.Tell(new LinkUser(user, $"uc-{user}"));
        // Every actor started, and its link and the link's UC update journaled: what follows writes only the changes.
        await node.Kit.AwaitAssertAsync(async () =>
        {
            foreach (var user in users)
            {
                var state = await node.StateOfAsync(user);
                Assert.True(state.Linked);
                Assert.Equal(state.Outbox.LastSequence, state.Outbox.LastAcknowledged);
            }
        }, TimeSpan.FromSeconds(30));
        var journal = PersistencePlugins.InterceptorOf<SqliteConnectionTuning>(node.System, PersistencePlugins.Journal);
        var before = journal.Opened;

        foreach (var user in users)
            node.Users.Tell(new ObserveTeamsPresence(user, "Away", "Away", "000001", TeamsPresenceSource.Notification));
        await node.Kit.AwaitAssertAsync(async () =>
        {
            foreach (var user in users)
                Assert.Equal("Away", (await node.StateOfAsync(user)).Teams?.Availability.Value);
        }, TimeSpan.FromSeconds(30));

        // One transaction per change before the journal's connections yielded on opening.
        var transactions = journal.Opened - before;
        Assert.InRange(transactions, 1, users.Count / 2);
    }
}
