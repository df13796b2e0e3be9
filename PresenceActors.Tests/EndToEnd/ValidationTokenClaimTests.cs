using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using PresenceActors.Simulators.Graph;
using PresenceActors.Tests.Support;
using PresenceActors.Webhooks;
using Xunit;

namespace PresenceActors.Tests.EndToEnd;

/// <summary>
/// The node's own validationToken check (as configured: the simulator's OpenID metadata over HTTPS) against tokens
/// signed with Graph's key whose claims are wrong one at a time; a genuine token is the control that the rest fail for
/// their claim and nothing else (docs/reliability.md, "Validation tokens").
/// </summary>
public class ValidationTokenClaimTests(LoopFixture fixture) : IClassFixture<LoopFixture>
{
    private readonly Loop _loop = fixture.Loop;

    private Task<bool> Valid(Action<JsonObject>? adjust) =>
        _loop.Service.Services.GetRequiredService<ValidationTokenValidator>()
            .AllValidAsync([_loop.Graph.Delivery.ValidationToken(Loop.ClientId, adjust)], CancellationToken.None);

    private static long At(TimeSpan fromNow) => DateTimeOffset.UtcNow.Add(fromNow).ToUnixTimeSeconds();

    [Fact]
    public async Task A_genuine_token_is_accepted() => Assert.True(await Valid(null));

    [Fact]
    public async Task An_expired_token_is_refused() => Assert.False(await Valid(c =>
    {
        // Beyond the 5 minutes of clock skew allowed.
        c["iat"] = At(TimeSpan.FromHours(-2));
        c["nbf"] = At(TimeSpan.FromHours(-2));
        c["exp"] = At(TimeSpan.FromMinutes(-6));
    }));

    [Fact]
    public async Task A_token_not_yet_valid_is_refused() => Assert.False(await Valid(c =>
    {
        c["nbf"] = At(TimeSpan.FromMinutes(10));
        c["exp"] = At(TimeSpan.FromHours(1));
    }));

    [Fact]
    public async Task A_token_for_another_application_is_refused() => Assert.False(await Valid(c => c["aud"] = Guid.NewGuid().ToString()));

    [Fact]
    public async Task A_token_from_another_issuer_is_refused() =>
        Assert.False(await Valid(c => c["iss"] = $"https://login.example.net/{_loop.Graph.Tenant.TenantId}/"));

    [Fact]
    public async Task A_token_from_another_publisher_than_graphs_change_notifications_is_refused() =>
        Assert.False(await Valid(c => { c["appid"] = Guid.NewGuid().ToString(); c["azp"] = c["appid"]!.GetValue<string>(); }));

    [Fact]
    public async Task A_token_of_another_tenant_is_refused()
    {
        var other = Guid.NewGuid().ToString();
        Assert.False(await Valid(c => c["iss"] = $"https://sts.windows.net/{other}/"));
        // Our tenant's issuer with another tenant's id contradicts itself.
        Assert.False(await Valid(c => c["tid"] = other));
    }

    [Fact]
    public async Task A_token_signed_with_a_key_the_metadata_does_not_publish_is_refused()
    {
        var stranger = new PresenceActors.Simulators.Common.SimJwt(System.Security.Cryptography.RSA.Create(2048), "not-graphs-key");
        var forged = stranger.Sign(new JsonObject
        {
            ["aud"] = Loop.ClientId, ["iss"] = $"https://sts.windows.net/{_loop.Graph.Tenant.TenantId}/", ["tid"] = _loop.Graph.Tenant.TenantId,
            ["appid"] = NotificationDelivery.ChangeNotificationPublisherAppId, ["nbf"] = At(TimeSpan.FromMinutes(-1)), ["exp"] = At(TimeSpan.FromHours(1)),
        });
        Assert.False(await _loop.Service.Services.GetRequiredService<ValidationTokenValidator>().AllValidAsync([forged], CancellationToken.None));
    }
}
