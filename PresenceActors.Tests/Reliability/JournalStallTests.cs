using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using PresenceActors.Ingress;
using PresenceActors.Simulators.Graph;
using PresenceActors.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace PresenceActors.Tests.Reliability;

/// <summary>
/// Graph never waits on the journal: with the users' journal stopped for 30 s the webhook keeps answering 202 (its
/// ingress log is separate) and Graph counts no answer as slow; with the ingress log itself stopped it answers 503 at
/// once (never slowly) and Graph delivers again. Once both write again, every change reaches UC.
/// </summary>
public class JournalStallTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_journal_stopped_for_30_s_slows_no_webhook_answer_and_loses_no_change()
    {
        await using var loop = await Loop.StartAsync();
        loop.Graph.Delivery.MaxRetryDelay = TimeSpan.FromSeconds(5); // Graph's back-off after a 503, shortened
        var users = await loop.AddUsersAsync(10, prefix: "stall");
        var host = loop.WebhookUrl.Authority;
        var ingress = loop.Service.Services.GetRequiredService<IngressLog>();

        // The journal stopped (another writer holds it) for 30 s while every user's call starts.
        var slowBefore = loop.Graph.Delivery.SlowEndpoints.Of(host).Slow;
        var appendedBefore = ingress.Appended;
        await using (await SqliteWriteLock.TakeAsync(loop))
        {
            foreach (var (_, teams) in users)
                loop.Graph.Tenant.SetClient(teams.Id, TeamsClientState.InACall);
            await Eventually.TrueAsync(() => ingress.Appended >= appendedBefore + users.Count, TimeSpan.FromSeconds(20), "every change committed to the ingress log");
            await FaultTests.LastsAsync(TimeSpan.FromSeconds(30));
            // Answered, yet not decided: the journal could not record a decision.
            Assert.All(users, u => Assert.NotEqual("Busy", loop.Uc.User(u.UcUserId)!.Status));
        }

        await Eventually.TrueAsync(() => users.All(u => loop.Uc.User(u.UcUserId)!.Status == "Busy"), TimeSpan.FromSeconds(90), "every call reaches UC once the journal writes");
        Assert.Equal(slowBefore, loop.Graph.Delivery.SlowEndpoints.Of(host).Slow);
        Assert.Equal(0, loop.Graph.Delivery.FailedAttempts);

        // The ingress log itself stopped: the webhook answers 503 at once, Graph delivers again, nothing is lost.
        var refusedBefore = ingress.Refused;
        await using (await SqliteWriteLock.TakeAsync(SqliteIngressStore.PathBeside(loop.Options.Node.Persistence.ConnectionString)))
        {
            foreach (var (_, teams) in users)
                loop.Graph.Tenant.SetClient(teams.Id, TeamsClientState.Available);
            await Eventually.TrueAsync(() => ingress.Refused > refusedBefore && loop.Graph.Delivery.FailedAttempts > 0, TimeSpan.FromSeconds(20), "a request refused while the log cannot commit");
        }

        await Eventually.TrueAsync(() => users.All(u => loop.Uc.User(u.UcUserId)!.Status == "Available"), TimeSpan.FromSeconds(120), "every call's end reaches UC after Graph delivers again");
        Assert.Equal(slowBefore, loop.Graph.Delivery.SlowEndpoints.Of(host).Slow);
        output.WriteLine($"{ingress.Refused - refusedBefore} items refused while the ingress log was locked; {ingress.Commits} commits for {ingress.Appended} items");
    }
}
