using System.CommandLine;
using System.Text.Json.Nodes;
using PresenceActors.Host.Admin;
using PresenceActors.Simulators.Graph;
using PresenceActors.Tests.Support;
using Xunit;

namespace PresenceActors.Tests.Host;

/// <summary>The pbm-style CLI against a running node's admin endpoint.</summary>
public class CtlTests(LoopFixture fixture) : IClassFixture<LoopFixture>
{
    private readonly Loop _loop = fixture.Loop;

    private async Task<(int Exit, string Output)> Ctl(params string[] args) => await Ctl(new StringWriter(), args);

    private async Task<(int Exit, string Output)> Ctl(StringWriter errors, params string[] args)
    {
        var output = new StringWriter();
        var root = new RootCommand { PresenceActors.Host.Admin.Ctl.Build(output, errors) };
        var exit = await root.Parse(["ctl", .. args, "--url", $"http://127.0.0.1:{_loop.Ports.Admin}"]).InvokeAsync();
        return (exit, output.ToString());
    }

    [Fact]
    public async Task Presence_pool_lists_accounts_with_users_out_of_650()
    {
        await _loop.AddUsersAsync(2, prefix: "ctlpool");
        await Eventually.TrueAsync(async () => (await _loop.PoolStatusAsync()).Accounts.All(a => a.SubscriptionId is not null), what: "subscription known to the pool");
        var (exit, output) = await Ctl("presence", "pool");
        Assert.Equal(0, exit);
        Assert.Contains("tech1@contoso.com", output);
        Assert.Matches(@"\b\d+/650\b", output);
        Assert.Contains("| ok", output);
        Assert.Contains("unwatched 0", output);
    }

    [Fact]
    public async Task Certificate_show_names_the_current_id_and_rotate_on_a_file_certificate_is_refused_naming_the_key()
    {
        var id = PresenceActors.Webhooks.EncryptionCertificates.IdOf(_loop.Options.EncryptionCertificate!);
        var (exit, output) = await Ctl("certificate", "show");
        Assert.Equal(0, exit);
        Assert.Contains($"current {id}", output);
        Assert.Contains("rotatable false", output);

        var errors = new StringWriter();
        var (refused, _) = await Ctl(errors, "certificate", "rotate");
        Assert.NotEqual(0, refused);
        Assert.Contains("presence.encryption.certificate", errors.ToString());
        Assert.Contains($"current {id}", (await Ctl("certificate", "show")).Output);
    }

    [Fact]
    public async Task Presence_user_shows_both_sides_and_the_transitions()
    {
        var (ucUserId, teams) = (await _loop.AddUsersAsync(1, ucStatus: "Lunch", prefix: "ctluser"))[0];
        _loop.Graph.Tenant.SetClient(teams.Id, TeamsClientState.InACall);
        await Eventually.TrueAsync(() => _loop.Uc.User(ucUserId)!.Status == "Busy", what: "T1");

        foreach (var who in new[] { ucUserId, teams.UserPrincipalName })
        {
            var (exit, output) = await Ctl("presence", "user", who);
            Assert.Equal(0, exit);
            Assert.Contains(ucUserId, output);
            Assert.Contains("Busy/InACall", output);
            Assert.Contains("Busy (prior Lunch)", output);
            Assert.Contains("T1", output);
        }

        var (jsonExit, json) = await Ctl("presence", "user", ucUserId, "--json");
        Assert.Equal(0, jsonExit);
        Assert.Equal(teams.Id, JsonNode.Parse(json)!["user"]!["teamsUserId"]!.GetValue<string>());
    }

    [Fact]
    public async Task Cluster_show_and_sharding_regions_answer()
    {
        var (exit, output) = await Ctl("cluster", "show");
        Assert.Equal(0, exit);
        Assert.Contains("akka.tcp://presence@", output);
        Assert.Contains("Up", output);
        Assert.Contains("Count: 1 node(s)", output);
        // The only member is the oldest (age 1) and so runs the singletons.
        Assert.Matches(@"akka\.tcp://presence@[^ ]+ +\| Up +\| 1 ", output);
        Assert.Matches(@"oldest \(runs the singletons\) akka\.tcp://presence@", output);

        var (regionsExit, regions) = await Ctl("sharding", "regions");
        Assert.Equal(0, regionsExit);
        Assert.Contains("user-presence", regions);
    }

    [Fact]
    public async Task Unknown_user_fails_with_a_message_and_a_non_zero_exit()
    {
        var error = new StringWriter();
        var (exit, _) = await Ctl(error, "presence", "user", "nobody-at-all");
        Assert.Equal(1, exit);
        Assert.Contains("No UC user or Teams user 'nobody-at-all'", error.ToString());
    }

    [Fact]
    public async Task Sharding_locate_finds_a_users_entity_and_cluster_down_refuses_strangers()
    {
        var (_, teams) = (await _loop.AddUsersAsync(1, prefix: "locate"))[0];
        var (exit, output) = await Ctl("sharding", "locate", "-e", teams.Id);
        Assert.Equal(0, exit);
        Assert.Contains($"entity {teams.Id} in shard", output);
        Assert.Contains(" at akka", output); // the region (node) that holds the shard

        var errors = new StringWriter();
        var (downExit, _) = await Ctl(errors, "cluster", "down", "-a", "akka.tcp://presence@127.0.0.1:1");
        Assert.Equal(1, downExit);
        Assert.Contains("is not a member of this cluster", errors.ToString());

        var (tailExit, tail) = await Ctl("cluster", "tail", "--count", "1");
        Assert.Equal(0, tailExit);
        Assert.Contains("MemberUp akka.tcp://presence@", tail);

        var (unreachableExit, unreachable) = await Ctl("cluster", "down-unreachable");
        Assert.Equal(0, unreachableExit);
        Assert.Contains("no unreachable members", unreachable);
    }
}
