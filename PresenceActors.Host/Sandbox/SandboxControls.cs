using PresenceActors.Simulators.Graph;
using PresenceActors.Simulators.Uc;

namespace PresenceActors.Host.Sandbox;

/// <summary>
/// What the status page may do to the simulators, registered only in sandbox mode: start and end calls on either side,
/// set a user's own Teams status, take a UC front end down. A production node has no such service, so the page has no
/// such buttons and the endpoints answer 404.
/// </summary>
public sealed class SandboxControls(GraphSimulator graph, UcSimulator uc)
{
    public Task<string> TeamsCallAsync(string ucUserId, bool active)
    {
        var user = TeamsUser(ucUserId);
        graph.Tenant.SetClient(user.Id, active ? TeamsClientState.InACall : TeamsClientState.Available);
        return Task.FromResult(active ? $"Teams call started for {user.UserPrincipalName}" : $"Teams call ended for {user.UserPrincipalName}");
    }

    public async Task<string> UcCallAsync(string ucUserId, bool active)
    {
        if (uc.User(ucUserId) is null)
            throw new ArgumentException($"No UC user '{ucUserId}'.", nameof(ucUserId));
        var status = await uc.SetPhoneAsync(ucUserId, active);
        return $"UC phone call {(active ? "started" : "ended")} for {ucUserId} (reported: {(int)status})";
    }

    /// <summary>The user's own Teams status (setUserPreferredPresence); "clear" returns to what the client shows.</summary>
    public Task<string> TeamsStatusAsync(string ucUserId, string availability)
    {
        var user = TeamsUser(ucUserId);
        if (string.Equals(availability, "clear", StringComparison.OrdinalIgnoreCase))
        {
            graph.Tenant.ClearPreferredPresence(user.Id);
            return Task.FromResult($"Own Teams status cleared for {user.UserPrincipalName}");
        }

        var activity = availability switch
        {
            "Available" => "Available",
            "Busy" => "Busy",
            "DoNotDisturb" => "DoNotDisturb",
            "BeRightBack" => "BeRightBack",
            "Away" => "Away",
            "Offline" => "OffWork",
            _ => throw new ArgumentException($"Own Teams status '{availability}' is not one of Available, Busy, DoNotDisturb, BeRightBack, Away, Offline, clear.", nameof(availability)),
        };
        graph.Tenant.SetPreferredPresence(user.Id, availability, activity, null);
        return Task.FromResult($"Own Teams status of {user.UserPrincipalName} set to {availability}");
    }

    public IReadOnlyList<(int Index, string Url, string Mode)> FrontEnds =>
        uc.FrontEndUrls.Select((url, i) => (i, url.ToString(), uc.ModeOf(i).ToString())).ToList();

    public async Task<string> FrontEndAsync(int index, bool up)
    {
        if (index < 0 || index >= uc.FrontEndUrls.Count)
            throw new ArgumentException($"Front end {index} does not exist (0..{uc.FrontEndUrls.Count - 1}).", nameof(index));
        await uc.SetModeAsync(index, up ? FrontEndMode.Up : FrontEndMode.Refusing);
        return $"UC front end {index + 1} is {(up ? "up" : "down (refusing connections)")}";
    }

    /// <summary>What the UC simulator holds for a user: the "real" UC side, beside the service's view.</summary>
    public (string Status, bool OnPhone)? UcSide(string ucUserId) =>
        uc.User(ucUserId) is { } user ? (user.Status, user.OnPhone) : null;

    /// <summary>What Teams shows for the user in the simulator.</summary>
    public string? TeamsSide(string teamsUserId)
    {
        if (graph.Tenant.FindUser(teamsUserId) is not { } user)
            return null;
        var presence = graph.Tenant.GetPresences([user.Id])[0];
        return $"{presence.Availability}/{presence.Activity}";
    }

    private SimUser TeamsUser(string ucUserId)
    {
        // Demo users are uc-{name} for {name}@{domain}; anything else is looked up as a Teams id or UPN.
        var name = ucUserId.StartsWith("uc-", StringComparison.Ordinal) ? $"{ucUserId[3..]}@{graph.Tenant.Domain}" : ucUserId;
        return graph.Tenant.FindUser(name) ?? throw new ArgumentException($"No Teams user for '{ucUserId}'.", nameof(ucUserId));
    }
}
