using PresenceActors.Graph;
using PresenceActors.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace PresenceActors.Tests.EndToEnd;

/// <summary>
/// The presence-call governor against the Graph simulator's own rate limit (docs/graph-budget.md). Both the budget and
/// Graph's window are made small (4 calls per 5 s) so that a budget spent is reached in a test; the governor's rules
/// are the production ones.
/// </summary>
public class PresenceBudgetTests : IAsyncLifetime
{
    private const int Budget = 4;
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(5);
    private Loop _loop = null!;

    public async Task InitializeAsync() => _loop = await Loop.StartAsync(
        adjust: o => o with { Graph = o.Graph with { PresenceBudget = Budget, PresenceBudgetWindow = Window } },
        prepareGraph: g => g.Faults.Limits["presence"] = (Budget, Window));

    public async Task DisposeAsync() => await _loop.DisposeAsync();

    private GraphGateway Gateway => _loop.Service.Services.GetRequiredService<GraphGateway>();

    private int PresenceCallsAnswered429 => _loop.Graph.Faults.Calls.Count(c => c.Api.StartsWith("presence", StringComparison.Ordinal) && c.Status == 429);

    /// <summary>Spends this node's budget on reads (as a reconciliation would) and queues more behind them.</summary>
    private List<Task> SpendOnReads(string userId, int reads) =>
        [.. Enumerable.Range(0, reads).Select(_ => Gateway.ReadPresenceAsync(userId, CancellationToken.None))];

    [Fact]
    public async Task With_the_budget_spent_on_reads_a_clear_goes_before_the_reads_that_waited_longer()
    {
        var (ucUserId, teams) = (await _loop.AddUsersAsync(1, prefix: "gov"))[0];
        await _loop.Uc.SetPhoneAsync(ucUserId, true);
        await Eventually.TrueAsync(() => _loop.Graph.Tenant.FindUser(teams.Id)!.Sessions.ContainsKey(Loop.ClientId), TimeSpan.FromSeconds(60), "our session on Graph");

        var before = _loop.Graph.Faults.Calls.Count;
        var reads = SpendOnReads(teams.Id, 3 * Budget);
        await Eventually.TrueAsync(() => Gateway.Governor.Waiting[PresenceCallKind.Read] > 0, what: "reads waiting for the budget");
        await _loop.Uc.SetPhoneAsync(ucUserId, false);
        await Eventually.TrueAsync(() => Gateway.Governor.Waiting[PresenceCallKind.Clear] == 1, what: "the clear waiting for the budget, behind the reads");

        await Task.WhenAll(reads).WaitAsync(TimeSpan.FromMinutes(2));
        await Eventually.TrueAsync(() => !_loop.Graph.Tenant.FindUser(teams.Id)!.Sessions.ContainsKey(Loop.ClientId)
                                         && _loop.GraphAnswered("presence.clear", teams.Id, before), what: "our session cleared");
        var after = _loop.Graph.Faults.Calls.Skip(before).Where(c => c.Api is "presence.get" or "presence.clear").ToList();
        var clearAt = after.FindIndex(c => c.Api == "presence.clear" && c.Path.Contains(teams.Id));
        var readsAfterClear = after.Skip(clearAt + 1).Count(c => c.Api == "presence.get");
        Assert.True(clearAt >= 0, "the clear reached Graph");
        Assert.True(readsAfterClear >= Budget, $"only {readsAfterClear} of the reads that waited longer went after the clear: {string.Join(", ", after.Select(c => c.Api))}");
        Assert.Equal(0, PresenceCallsAnswered429);
    }

    [Fact]
    public async Task A_UC_call_that_ends_before_its_setPresence_could_go_costs_no_Graph_call()
    {
        var (ucUserId, teams) = (await _loop.AddUsersAsync(1, prefix: "short"))[0];
        var reads = SpendOnReads(teams.Id, 2 * Budget);
        await Eventually.TrueAsync(() => Gateway.Governor.Waiting[PresenceCallKind.Read] > 0, what: "the budget spent");

        await _loop.Uc.SetPhoneAsync(ucUserId, true);
        await Eventually.TrueAsync(() => Gateway.Governor.Waiting[PresenceCallKind.Set] == 1, what: "the setPresence waiting");
        await _loop.Uc.SetPhoneAsync(ucUserId, false);
        await Eventually.TrueAsync(async () => (await _loop.StateOfAsync(teams.Id)).History.Any(h => h.Detail.Contains("nothing was sent")),
            what: "the setPresence withdrawn");

        await Task.WhenAll(reads).WaitAsync(TimeSpan.FromMinutes(2)); // every read went: the window moved on past where the set would have gone
        var state = await _loop.StateOfAsync(teams.Id);
        Assert.Null(state.Session.ExpiresAt);
        Assert.Null(state.Session.InFlight);
        Assert.DoesNotContain(_loop.Graph.Faults.Calls, c => c.Api is "presence.set" or "presence.clear" && c.Path.Contains(teams.Id));
        Assert.Equal(0, PresenceCallsAnswered429);
    }
}
