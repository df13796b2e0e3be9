using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using PresenceActors.Simulators.Uc;
using Xunit;

namespace PresenceActors.Tests.Simulators;

/// <summary>The UC simulator's back end: how it reports to the internal API when the bridge refuses or is slow.</summary>
public class UcSimulatorBackEndTests
{
    [Fact]
    public async Task Reports_of_one_user_go_one_at_a_time_and_changes_made_meanwhile_travel_in_the_next_report()
    {
        var firstArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var releaseFirst = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var received = new ConcurrentQueue<(bool OnPhone, int InFlight)>();
        var inFlight = 0;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        await using var api = builder.Build();
        api.MapPost("/api/v1/users/{id}/presence", async (HttpContext context) =>
        {
            var now = Interlocked.Increment(ref inFlight);
            try
            {
                var body = (await JsonNode.ParseAsync(context.Request.Body))!.AsObject();
                received.Enqueue((body["onPhone"]!.GetValue<bool>(), now));
                if (received.Count == 1)
                {
                    // The bridge is overloaded: it holds the first report while the person's phone rings on and off, then refuses it.
                    firstArrived.TrySetResult();
                    await releaseFirst.Task.WaitAsync(TimeSpan.FromSeconds(30));
                    context.Response.Headers.RetryAfter = "0";
                    return Results.StatusCode(503);
                }

                return Results.Ok();
            }
            finally
            {
                Interlocked.Decrement(ref inFlight);
            }
        });
        await api.StartAsync();
        await using var uc = await UcSimulator.StartAsync(new UcSimulatorOptions { ServiceApi = new Uri(api.Urls.First() + "/"), FrontEndPorts = [] });
        uc.AddUser("uc-ringing");

        var first = uc.SetPhoneAsync("uc-ringing", true);
        await firstArrived.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var meanwhile = new[] { uc.SetPhoneAsync("uc-ringing", false), uc.SetPhoneAsync("uc-ringing", true), uc.SetPhoneAsync("uc-ringing", false) };
        releaseFirst.SetResult();
        var answers = await Task.WhenAll(meanwhile.Prepend(first)).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.All(answers, a => Assert.Equal(HttpStatusCode.OK, a));
        // The refused report is sent again with the status as it is now; the three changes made meanwhile ride on it.
        Assert.Equal([(true, 1), (false, 1)], received.ToArray());
        Assert.Equal(1, uc.ReportRetries);
    }

    [Fact]
    public async Task A_registration_answered_503_is_sent_again_after_retry_after()
    {
        var puts = 0;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        await using var api = builder.Build();
        api.MapPut("/api/v1/users/{id}", (HttpContext context) =>
        {
            // A node whose cluster is still forming: its registry does not answer yet the first time.
            if (Interlocked.Increment(ref puts) == 1)
            {
                context.Response.Headers.RetryAfter = "0";
                return Results.StatusCode(503);
            }

            return Results.Json(new { ucUserId = "uc-new", registered = true });
        });
        await api.StartAsync();
        await using var uc = await UcSimulator.StartAsync(new UcSimulatorOptions { ServiceApi = new Uri(api.Urls.First() + "/"), FrontEndPorts = [] });

        var (status, body) = await uc.RegisterAsync("uc-new", "new@contoso.com").WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(body!["registered"]!.GetValue<bool>());
        Assert.Equal(2, Volatile.Read(ref puts));
    }
}
