using PresenceActors.Host.Doctor;
using PresenceActors.Tests.Support;
using Xunit;

namespace PresenceActors.Tests.Host;

/// <summary>doctor against the simulator: a clean bill of health, then each injected fault reported with its fix.</summary>
public class DoctorTests(LoopFixture fixture) : IClassFixture<LoopFixture>
{
    private readonly Loop _loop = fixture.Loop;

    private async Task<(int Exit, string Output)> RunAsync(Func<PresenceActors.Host.PresenceServiceOptions, PresenceActors.Host.PresenceServiceOptions>? adjust = null)
    {
        var output = new StringWriter();
        var options = adjust?.Invoke(_loop.Options) ?? _loop.Options;
        var exit = await new Doctor(options, output).RunAsync(CancellationToken.None);
        return (exit, output.ToString());
    }

    [Fact]
    public async Task Healthy_setup_passes_every_check()
    {
        var (exit, output) = await RunAsync();
        Assert.True(exit == 0, output);
        Assert.Contains("OK    application", output);
        Assert.Contains("OK    technical user tech1@contoso.com signs in", output);
        Assert.Contains("answers Graph's validation handshake", output);
        Assert.Contains("presence subscription", output);
        Assert.Contains("OK    UC front end", output);
        Assert.DoesNotContain("FAIL", output);
    }

    public static TheoryData<int, string> Faults => new()
    {
        { 50126, "wrong username or password" },
        { 50076, "multi-factor authentication" },
        { 50053, "locked" },
        { 50055, "password has expired" },
        { 53003, "Conditional Access" },
        { 7000215, "azure.activedirectory.clientSecret" },
        { 7000222, "client secret has expired" },
        { 7000218, "Allow public client flows" },
    };

    [Theory]
    [MemberData(nameof(Faults))]
    public async Task Each_sign_in_fault_is_reported_with_its_fix(int code, string fix)
    {
        var tenant = _loop.Graph.Tenant;
        var technical = tenant.FindUser("tech1@contoso.com")!;
        var app = tenant.FindApplication(Loop.ClientId)!;
        Func<PresenceActors.Host.PresenceServiceOptions, PresenceActors.Host.PresenceServiceOptions>? adjust = null;
        switch (code)
        {
            case 50126:
                adjust = o => o with { Graph = o.Graph with { TechnicalAccounts = [new PresenceActors.Graph.TechnicalAccountCredentials("tech1@contoso.com", "not-the-password")] } };
                break;
            case 7000215:
                adjust = o => o with { Graph = o.Graph with { ClientSecret = "not-the-secret" } };
                break;
            case 7000222:
                app.InjectedError = code;
                break;
            case 7000218:
                app.AllowPublicClientFlows = false;
                break;
            default:
                technical.InjectedError = code;
                break;
        }

        try
        {
            var (exit, output) = await RunAsync(adjust);
            Assert.Equal(1, exit);
            Assert.Contains($"AADSTS{code}", output);
            Assert.Contains(fix, output);
            Assert.Contains("FAIL", output);
        }
        finally
        {
            technical.InjectedError = null;
            app.InjectedError = null;
            app.AllowPublicClientFlows = true;
        }
    }

    [Fact]
    public async Task Unreachable_front_end_and_webhook_are_reported()
    {
        var (exit, output) = await RunAsync(o => o with
        {
            WebhookReceiver = new Uri($"https://127.0.0.1:{TestPorts.Next()}/graph/listen"),
            FrontEnds = o.FrontEnds with { Urls = [new Uri($"https://127.0.0.1:{TestPorts.Next()}/owc-servlets/user/graph/notifications")] },
        });
        Assert.Equal(1, exit);
        Assert.Contains("FAIL  webhook.receiver", output);
        Assert.Contains("HAProxy", output);
        Assert.Contains("FAIL  UC front end", output);
    }

    [Fact]
    public async Task Each_application_is_checked_and_a_fault_of_the_second_is_named()
    {
        const string second = "3b9d7e21-6c4a-4f8e-a1d2-5e6f7a8b9c0d";
        var app = _loop.Graph.Tenant.FindApplication(second) ?? _loop.Graph.Tenant.AddApplication(second, "second-doctor-secret~0123456789");
        PresenceActors.Host.PresenceServiceOptions WithSecond(PresenceActors.Host.PresenceServiceOptions o) =>
            o with { Graph = o.Graph with { MoreApplications = [new PresenceActors.Graph.GraphApplication(second, "second-doctor-secret~0123456789")] } };

        var (exit, output) = await RunAsync(WithSecond);
        Assert.True(exit == 0, output);
        Assert.Contains($"OK    application {Loop.ClientId} signs in", output);
        Assert.Contains($"OK    application {second} signs in", output);
        Assert.Contains($"OK    technical user tech1@contoso.com signs in with application {second}", output);
        Assert.Contains($"can create and delete a presence subscription with application {second}", output);
        Assert.Contains($"OK    read presence with application {second} (Presence.Read.All / Presence.ReadWrite.All, application)", output);

        app.AllowPublicClientFlows = false;
        try
        {
            (exit, output) = await RunAsync(WithSecond);
            Assert.Equal(1, exit);
            Assert.Contains($"OK    technical user tech1@contoso.com signs in with application {Loop.ClientId}", output);
            Assert.Contains($"FAIL  technical user tech1@contoso.com signs in with application {second}", output);
            Assert.Contains("Allow public client flows", output);
        }
        finally
        {
            app.AllowPublicClientFlows = true;
        }
    }
}
