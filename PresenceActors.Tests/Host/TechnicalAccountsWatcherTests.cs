using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using PresenceActors.Graph;
using PresenceActors.Host.Configuration;
using PresenceActors.Subscriptions;
using PresenceActors.Tests.Support;
using Xunit;

namespace PresenceActors.Tests.Host;

/// <summary>A technical user added to the configuration file joins the pool without a restart; a broken edit changes nothing and is logged naming its keys.</summary>
public class TechnicalAccountsWatcherTests
{
    [Fact]
    public async Task Account_appended_to_the_file_joins_the_pool_and_takes_users()
    {
        await using var loop = await Loop.StartAsync();
        var file = Path.Combine(Path.GetTempPath(), $"presence-accounts-{Guid.NewGuid():N}.properties");
        var (user1, password1) = loop.Accounts[0];
        await File.WriteAllTextAsync(file, $"azure.activedirectory.technical.user.username = {user1}\nazure.activedirectory.technical.user.password = {password1}\n");
        try
        {
            var logs = new CapturingLoggerProvider();
            // The node's own reading of its file (Program's `run`): the file as a configuration source read again on
            // change, bound to the watched options through IOptionsMonitor.
            await using var watching = WatcherScope.Start(loop, file, logs);

            // Capacity 650 on tech1: 700 users leave 50 unwatched until a second account arrives.
            var ids = Enumerable.Range(0, 700).Select(i => loop.Graph.Tenant.AddUser($"w{i}@contoso.com").Id).ToList();
            loop.Pool.Tell(new SubscriptionPoolCommands.WatchUsers([.. ids]), Akka.Actor.ActorRefs.NoSender);
            await Eventually.TrueAsync(async () => (await loop.PoolStatusAsync()).UnwatchedUsers == 50, TimeSpan.FromSeconds(30), "50 unwatched");

            loop.Graph.Tenant.AddUser("tech-new@contoso.com", password: "New-Tech-P4ss", technical: true);
            await File.AppendAllTextAsync(file, "azure.activedirectory.technical.users[0].username = tech-new@contoso.com\nazure.activedirectory.technical.users[0].password = New-Tech-P4ss\n");

            await Eventually.TrueAsync(async () => (await loop.PoolStatusAsync()).Accounts.Any(a => a.Account == "tech-new@contoso.com" && a.SubscribedUsers == 50),
                TimeSpan.FromSeconds(30), "the new account holds the 50");
            Assert.Equal(0, (await loop.PoolStatusAsync()).UnwatchedUsers);

            // An edit half done: a third user without its password, and a password pasted on a line of its own. The
            // reload is refused naming the key and the line, never echoing the pasted value, and nothing changes.
            await File.AppendAllTextAsync(file, "azure.activedirectory.technical.users[1].username = tech-half@contoso.com\nPasted-S3cret-Value\n");
            // (The file watcher may also have seen the append half written; the reload of the whole edit is the one read.)
            await Eventually.TrueAsync(() => logs.Lines.Any(l => l.Contains("technical-accounts-reload-refused", StringComparison.Ordinal)
                                                                 && l.Contains("line 6 is not 'key = value'", StringComparison.Ordinal)),
                TimeSpan.FromSeconds(30), "the reload refused");
            var refused = logs.Lines.Last(l => l.Contains("technical-accounts-reload-refused", StringComparison.Ordinal));
            Assert.Contains("azure.activedirectory.technical.users[1].password is missing", refused);
            Assert.DoesNotContain("Pasted-S3cret-Value", string.Join("\n", logs.Lines));
            var accounts = (await loop.PoolStatusAsync()).Accounts.Select(a => a.Account).Order().ToList();
            Assert.Equal(["tech-new@contoso.com", user1], accounts);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
