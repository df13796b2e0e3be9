using Microsoft.Graph.Models.ODataErrors;
using Microsoft.Kiota.Http.HttpClientLibrary.Middleware.Options;
using PresenceActors.Graph;
using PresenceActors.Simulators.Graph;
using PresenceActors.Tests.Support;
using Xunit;

namespace PresenceActors.Tests.Graph;

/// <summary>
/// Users looked up in bulk through the real Graph SDK against the simulator, which charges the directory's resource units
/// and applies its limits (docs/graph-api.md, section 9).
/// </summary>
public class DirectoryLookupTests : IAsyncLifetime
{
    private SimulatedTenant _tenant = null!;
    private List<SimUser> _users = null!;

    private GraphSimulator _graph => _tenant.Sim;

    public async Task InitializeAsync()
    {
        _tenant = await SimulatedTenant.StartAsync();
        // Over 500 users: the directory's largest tenant size. Every tenth user has a mail address of its own.
        _users = Enumerable.Range(0, 700).Select(i => _graph.Tenant.AddUser($"person{i:D4}@contoso.com",
            mail: i % 10 == 0 ? $"first.last{i:D4}@mail.contoso.com" : null)).ToList();
    }

    public async Task DisposeAsync() => await _tenant.DisposeAsync();

    private GraphGateway Gateway(int cacheEntries = 100_000) => new(new GraphOptions
    {
        UserCacheEntries = cacheEntries,
        TenantId = _graph.Tenant.TenantId, ClientId = SimulatedTenant.ClientId, ClientSecret = SimulatedTenant.ClientSecret,
        AuthorityHost = _graph.AuthorityHost, GraphBaseUrl = _graph.GraphUrl, TrustedCertificates = [_graph.Certificate],
        EntraTrustedCertificates = [_graph.Certificate],
    });

    private List<SimCall> Calls(string api) => _graph.Faults.Calls.Where(c => c.Api == api).ToList();

    [Fact]
    public async Task Hundreds_of_users_by_id_name_and_mail_are_found_with_filtered_reads_in_four_batches()
    {
        using var gateway = Gateway();
        var byName = _users.Take(300).Select(u => (Key: u.UserPrincipalName, u.Id));
        var byId = _users.Skip(300).Take(200).Select(u => (Key: u.Id, u.Id));
        var byMail = _users.Skip(500).Where(u => u.Mail != u.UserPrincipalName).Select(u => (Key: u.Mail!, u.Id)).ToList();
        var known = byName.Concat(byId).Concat(byMail).ToList();
        var unknown = Enumerable.Range(0, 20).Select(i => $"nobody{i}@contoso.com").Concat(Enumerable.Range(0, 5).Select(_ => Guid.NewGuid().ToString())).ToList();

        var found = await gateway.ResolveManyAsync([.. known.Select(k => k.Key), .. unknown], CancellationToken.None);

        Assert.Equal(20, byMail.Count);
        Assert.Equal(known.Count, found.Count);
        Assert.All(known, k => Assert.Equal(k.Id, found[k.Key].Id));
        Assert.All(unknown, k => Assert.False(found.ContainsKey(k)));
        // 340 names (300 + 20 mails + 20 unknown) in 23 reads, 205 ids in 14, the 40 names not found by name in 3 by mail:
        // 40 reads of at most 15 values, in batches of at most 20, one user per read never.
        var reads = Calls("users.list");
        Assert.Equal(23 + 14 + 3, reads.Count);
        Assert.All(reads, r => Assert.Equal(200, r.Status));
        Assert.Empty(Calls("users.get"));
        Assert.Equal(4, Calls("batch").Count);

        // Asked again, the answers come from the gateway's cache: Graph is not asked.
        var again = await gateway.ResolveManyAsync([.. known.Take(50).Select(k => k.Key)], CancellationToken.None);
        Assert.Equal(50, again.Count);
        Assert.Equal(40, Calls("users.list").Count);
    }

    [Fact]
    public async Task The_cache_remembers_as_many_look_ups_as_it_may_and_what_did_not_fit_is_asked_again()
    {
        // Room for 50 users (100 entries: each by name and by id): a list of 80 fills it, and the last 30 are not kept.
        using var gateway = Gateway(cacheEntries: 100);
        var wanted = _users.Take(80).Select(u => u.UserPrincipalName).ToList();
        Assert.Equal(80, (await gateway.ResolveManyAsync(wanted, CancellationToken.None)).Count);
        var first = Calls("users.list").Count;

        var again = await gateway.ResolveManyAsync(wanted, CancellationToken.None);
        Assert.Equal(80, again.Count);
        Assert.Equal(first + 2, Calls("users.list").Count); // 30 names asked again: two reads of 15
    }

    [Fact]
    public async Task Reads_the_directory_throttles_are_sent_again_after_their_Retry_After_and_every_user_is_found()
    {
        // Five resource units per two seconds: ten reads in one batch, so five are refused and must come again.
        _graph.Faults.Limits["users"] = (5, TimeSpan.FromSeconds(2));
        using var gateway = Gateway();
        var wanted = _users.Take(150).ToList();

        var found = await gateway.ResolveManyAsync([.. wanted.Select(u => u.UserPrincipalName)], CancellationToken.None);

        Assert.All(wanted, u => Assert.Equal(u.Id, found[u.UserPrincipalName].Id));
        var reads = Calls("users.list");
        Assert.Equal(5, reads.Count(r => r.Status == 429 && r.RetryAfterSeconds >= 1));
        Assert.Equal(10, reads.Count(r => r.Status == 200));
        Assert.Equal(2, Calls("batch").Count);
    }

    [Fact]
    public async Task The_directory_charges_resource_units_refuses_a_sixteenth_filter_value_and_names_the_limit_it_throttled()
    {
        var graph = _tenant.Graph(_tenant.AppCredential());

        var withSelect = new HeadersInspectionHandlerOption { InspectResponseHeaders = true };
        await graph.Users.GetAsync(r =>
        {
            r.QueryParameters.Filter = "userPrincipalName in ('person0001@contoso.com','person0002@contoso.com')";
            r.QueryParameters.Select = ["id"];
            r.Options.Add(withSelect);
        });
        var without = new HeadersInspectionHandlerOption { InspectResponseHeaders = true };
        var listed = await graph.Users.GetAsync(r =>
        {
            r.QueryParameters.Filter = "userPrincipalName in ('person0001@contoso.com','person0002@contoso.com')";
            r.Options.Add(without);
        });
        Assert.Equal(2, listed!.Value!.Count);
        Assert.Equal("1", withSelect.ResponseHeaders["x-ms-resource-unit"].Single());
        Assert.Equal("2", without.ResponseHeaders["x-ms-resource-unit"].Single());

        var sixteen = string.Join(",", _users.Take(16).Select(u => $"'{u.UserPrincipalName}'"));
        var tooMany = await Assert.ThrowsAsync<ODataError>(() => graph.Users.GetAsync(r => r.QueryParameters.Filter = $"userPrincipalName in ({sixteen})"));
        Assert.Equal(400, tooMany.ResponseStatusCode);
        Assert.Contains("Max allowed: 15", tooMany.Error!.Message);

        _graph.Faults.Limits["users"] = (1, TimeSpan.FromMinutes(1));
        await graph.Users[_users[0].Id].GetAsync();
        var throttled = await Assert.ThrowsAsync<ODataError>(() => graph.Users[_users[1].Id].GetAsync(r => r.Options.Add(new RetryHandlerOption { MaxRetry = 0 })));
        Assert.Equal(429, throttled.ResponseStatusCode);
        Assert.Equal($"Tenant_Application/ReadWrite/{SimulatedTenant.ClientId}/{_graph.Tenant.TenantId}", throttled.ResponseHeaders["x-ms-throttle-scope"].Single());
        Assert.Equal("ResourceUnitLimitExceeded", throttled.ResponseHeaders["x-ms-throttle-information"].Single());
        Assert.True(int.Parse(throttled.ResponseHeaders["Retry-After"].Single()) >= 1);
    }
}
