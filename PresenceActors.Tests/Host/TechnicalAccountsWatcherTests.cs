using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using PresenceActors.Graph;
using PresenceActors.Host.Configuration;
using PresenceActors.Subscriptions;
using PresenceActors.Tests.Support;
using Xunit;

namespace PresenceActors.Tests.Host;

/// <summary>A technical user added to the configuration file joins the pool without a restart.</summary>
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
            var watcher = new TechnicalAccountsWatcher(
                () => PropertiesFile.Parse(File.ReadAllText(file), out _) is var p && p.TryGetValue("azure.activedirectory.technical.users[0].username", out var u)
                    ? [new TechnicalAccountCredentials(user1, password1), new TechnicalAccountCredentials(u, p["azure.activedirectory.technical.users[0].password"])]
                    : [new TechnicalAccountCredentials(user1, password1)],
                loop.Service.Services.GetRequiredService<ISubscriptionGraph>(),
                loop.Service.Services.GetRequiredService<IRequiredActor<SubscriptionPoolKey>>(),
                NullLogger<TechnicalAccountsWatcher>.Instance);
            using var watching = watcher.Watch(file);

            // Capacity 650 on tech1: 700 users leave 50 unwatched until a second account arrives.
            var ids = Enumerable.Range(0, 700).Select(i => loop.Graph.Tenant.AddUser($"w{i}@contoso.com").Id).ToList();
            loop.Pool.Tell(new SubscriptionPoolCommands.WatchUsers([.. ids]), Akka.Actor.ActorRefs.NoSender);
            await Eventually.TrueAsync(async () => (await loop.PoolStatusAsync()).UnwatchedUsers == 50, TimeSpan.FromSeconds(30), "50 unwatched");

            loop.Graph.Tenant.AddUser("tech-new@contoso.com", password: "New-Tech-P4ss", technical: true);
            await File.AppendAllTextAsync(file, "azure.activedirectory.technical.users[0].username = tech-new@contoso.com\nazure.activedirectory.technical.users[0].password = New-Tech-P4ss\n");

            await Eventually.TrueAsync(async () => (await loop.PoolStatusAsync()).Accounts.Any(a => a.Account == "tech-new@contoso.com" && a.SubscribedUsers == 50),
                TimeSpan.FromSeconds(30), "the new account holds the 50");
            Assert.Equal(0, (await loop.PoolStatusAsync()).UnwatchedUsers);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
