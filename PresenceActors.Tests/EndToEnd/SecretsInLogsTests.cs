using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Akka.Actor;
using Microsoft.Extensions.DependencyInjection;
using PresenceActors.Simulators.Graph;
using PresenceActors.Tests.Support;
using Xunit;

namespace PresenceActors.Tests.EndToEnd;

/// <summary>Secrets never appear in logs: every log line of an end-to-end run, failures included, is searched for them.</summary>
public class SecretsInLogsTests
{
    [Fact]
    public async Task No_configured_secret_appears_in_any_log_line_of_an_end_to_end_run()
    {
        var logs = new CapturingLoggerProvider();
        await using var loop = await Loop.StartAsync(technicalAccounts: 2, captureLogs: logs);

        var (ucUserId, teams) = (await loop.AddUsersAsync(2, prefix: "secret"))[0];
        loop.Graph.Tenant.SetClient(teams.Id, TeamsClientState.InACall);
        await Eventually.TrueAsync(() => loop.Uc.User(ucUserId)!.Status == "Busy", what: "Teams call mirrored");
        loop.Graph.Tenant.SetClient(teams.Id, TeamsClientState.Available);
        await loop.Uc.SetPhoneAsync(ucUserId, true);
        await Eventually.TrueAsync(() => loop.Graph.Tenant.FindUser(teams.Id)!.Sessions.Count == 1, what: "UC call mirrored");
        await loop.Uc.SetPhoneAsync(ucUserId, false);

        // Failures that log: a technical user whose password is wrong, forged input, a wrong API key.
        const string wrongPassword = "Wrong-Password-4-Tech3";
        loop.Graph.Tenant.AddUser("tech3@contoso.com", password: "Right-Password-4-Tech3", technical: true);
        loop.Service.Services.GetRequiredService<PresenceActors.Graph.ISubscriptionGraph>()
            .RegisterAccount(new PresenceActors.Graph.TechnicalAccountCredentials("tech3@contoso.com", wrongPassword));
        await loop.Pool.Ask<PresenceActors.Subscriptions.SubscriptionPoolCommands.CommandResult>(
            new PresenceActors.Subscriptions.SubscriptionPoolCommands.AddAccount("tech3@contoso.com"), TimeSpan.FromSeconds(10));
        loop.Graph.Faults.Add(new SimFault { Api = "subscriptions.*", Status = 503, Count = 2 });
        loop.Pool.Tell(new PresenceActors.Subscriptions.SubscriptionPoolCommands.RemoveAccount("tech1@contoso.com"), Akka.Actor.ActorRefs.NoSender);
        using var http = new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true });
        await http.PostAsync(loop.WebhookUrl, new StringContent("{\"value\":[{\"subscriptionId\":\"x\",\"clientState\":\"forged\"}]}", Encoding.UTF8, "application/json"));
        using var wrongKey = new HttpRequestMessage(HttpMethod.Get, $"https://127.0.0.1:{loop.Ports.InternalApi}/api/v1/users/{ucUserId}");
        wrongKey.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "guess");
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(wrongKey)).StatusCode);
        await Eventually.TrueAsync(() => logs.Lines.Any(l => l.Contains("account-unhealthy")), TimeSpan.FromSeconds(30), "the failing technical user logged");

        var secrets = new List<string> { Loop.ClientSecret, Loop.ApiKey, Convert.ToBase64String(loop.Options.ClientStateKey) };
        secrets.AddRange(loop.Accounts.Select(a => a.Password));
        secrets.AddRange([wrongPassword, "Right-Password-4-Tech3"]);
        secrets.AddRange(loop.Graph.Tenant.ListSubscriptions().Select(s => s.ClientState!));
        var text = string.Join('\n', logs.Lines);
        // The capture holds the service's own lines and Akka's bridged ones, failures included.
        foreach (var expected in new[] { "sync-decision", "account-unhealthy", "notification-dropped", "subscription-created" })
            Assert.Contains(logs.Lines, l => l.Contains(expected));
        foreach (var secret in secrets)
            Assert.False(text.Contains(secret, StringComparison.Ordinal), $"a secret ({secret[..3]}…) appears in the logs");
    }
}
