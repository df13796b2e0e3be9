using PresenceActors.Simulators.Graph;
using PresenceActors.Simulators.Uc;

namespace PresenceActors.Host.Sandbox;

/// <summary>
/// `sandbox --demo`: every row of the seed's table ("Tabelle 11") in both directions against the running sandbox, then a
/// results table. Exit code 0 only when every row came out right.
/// </summary>
public static class SandboxDemo
{
    public static readonly (string Availability, string Activity, string DuringAvailability, string DuringActivity)[] SeedTable =
    [
        ("Available", "Available", "Busy", "InACall"),
        ("Busy", "Busy", "Busy", "InACall"),
        ("DoNotDisturb", "DoNotDisturb", "DoNotDisturb", "DoNotDisturb"),
        ("BeRightBack", "BeRightBack", "BeRightBack", "BeRightBack"),
        ("Away", "Away", "Away", "Away"),
        ("Offline", "OffWork", "Offline", "OffWork"),
        ("Busy", "InAMeeting", "Busy", "InACall"),
    ];

    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(15);

    public static async Task<int> RunAsync(SandboxMode.Running sandbox, string clientId, TextWriter output, CancellationToken cancellationToken)
    {
        if (sandbox.Users.Count < SeedTable.Length * 2)
        {
            output.WriteLine($"--demo needs at least {SeedTable.Length * 2} demo users (--users).");
            return 2;
        }

        var rows = new List<string[]>();
        var next = 0;
        foreach (var row in SeedTable)
            rows.Add(await TeamsCallAsync(sandbox, sandbox.Users[next++], row, cancellationToken));
        foreach (var row in SeedTable)
            rows.Add(await UcCallAsync(sandbox, sandbox.Users[next++], row, clientId, cancellationToken));

        string[] headers = ["direction", "Teams before", "Teams during", "UC during", "UC after", "Teams after", "result"];
        var widths = headers.Select((h, i) => Math.Max(h.Length, rows.Max(r => r[i].Length))).ToArray();
        output.WriteLine();
        output.WriteLine(string.Join(" | ", headers.Select((h, i) => h.PadRight(widths[i]))));
        output.WriteLine(string.Join("-+-", widths.Select(w => new string('-', w))));
        foreach (var r in rows)
            output.WriteLine(string.Join(" | ", r.Select((c, i) => c.PadRight(widths[i]))));
        var failed = rows.Count(r => r[^1] != "ok");
        output.WriteLine(failed == 0 ? $"All {rows.Count} rows came out right." : $"{failed} of {rows.Count} rows came out wrong.");
        return failed == 0 ? 0 : 1;
    }

    private static async Task<string[]> TeamsCallAsync(SandboxMode.Running s, (string UcUserId, string Upn) user,
        (string Availability, string Activity, string DuringAvailability, string DuringActivity) row, CancellationToken cancellationToken)
    {
        var tenant = s.Graph.Tenant;
        var teams = tenant.FindUser(user.Upn)!;
        SetPrior(tenant, teams.Id, row.Availability, row.Activity);
        var before = Shown(tenant, teams.Id);
        tenant.SetClient(teams.Id, TeamsClientState.InACall);
        var during = Shown(tenant, teams.Id);
        var expectBusy = row.DuringActivity == "InACall";
        var ucDuring = expectBusy
            ? await WaitAsync(() => s.Uc.User(user.UcUserId)!.Status == "Busy", cancellationToken) ? "Busy" : s.Uc.User(user.UcUserId)!.Status
            : s.Uc.User(user.UcUserId)!.Status;
        tenant.SetClient(teams.Id, TeamsClientState.Available);
        var restored = await WaitAsync(() => s.Uc.User(user.UcUserId)!.Status == "Available", cancellationToken);
        var ucAfter = s.Uc.User(user.UcUserId)!.Status;
        var ok = during == $"{row.DuringAvailability}/{row.DuringActivity}" && ucDuring == (expectBusy ? "Busy" : "Available") && restored;
        return ["Teams call", before, during, ucDuring, ucAfter, Shown(tenant, teams.Id), ok ? "ok" : "WRONG"];
    }

    private static async Task<string[]> UcCallAsync(SandboxMode.Running s, (string UcUserId, string Upn) user,
        (string Availability, string Activity, string DuringAvailability, string DuringActivity) row, string clientId, CancellationToken cancellationToken)
    {
        var tenant = s.Graph.Tenant;
        var teams = tenant.FindUser(user.Upn)!;
        SetPrior(tenant, teams.Id, row.Availability, row.Activity);
        var before = Shown(tenant, teams.Id);
        await s.Uc.SetPhoneAsync(user.UcUserId, true);
        var set = await WaitAsync(() => tenant.FindUser(teams.Id)!.Sessions.ContainsKey(clientId), cancellationToken);
        var during = Shown(tenant, teams.Id);
        var ucDuring = s.Uc.User(user.UcUserId)!.Status;
        await s.Uc.SetPhoneAsync(user.UcUserId, false);
        var cleared = await WaitAsync(() => !tenant.FindUser(teams.Id)!.Sessions.ContainsKey(clientId), cancellationToken);
        var after = Shown(tenant, teams.Id);
        var ok = set && cleared && during == $"{row.DuringAvailability}/{row.DuringActivity}" && after == before
                 && s.Uc.Updates.All(u => u.UcUserId != user.UcUserId);
        return ["UC call", before, during, ucDuring, s.Uc.User(user.UcUserId)!.Status, after, ok ? "ok" : "WRONG"];
    }

    private static void SetPrior(SimTenant tenant, string userId, string availability, string activity)
    {
        if ((availability, activity) == ("Busy", "InAMeeting"))
            tenant.SetMeeting(userId, true);
        else if ((availability, activity) != ("Available", "Available"))
            tenant.SetPreferredPresence(userId, availability, activity, null);
    }

    private static string Shown(SimTenant tenant, string userId)
    {
        var (availability, activity, _) = tenant.GetPresence(userId);
        return $"{availability}/{activity}";
    }

    private static async Task<bool> WaitAsync(Func<bool> condition, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(50));
        var deadline = DateTime.UtcNow + Deadline;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline || !await timer.WaitForNextTickAsync(cancellationToken))
                return false;
        }

        return true;
    }
}
