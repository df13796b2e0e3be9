using System.Collections.Immutable;
using PresenceActors.Presence;

namespace PresenceActors.Users;

/// <summary>
/// A Teams state that crosses to UC (docs/mapping.md): while Teams shows it, UC shows <see cref="UcStatus"/>; afterwards the
/// status UC had before comes back, unless someone chose another one meanwhile (T1, T2).
/// </summary>
/// <param name="Activity">The Teams activity, e.g. InACall.</param>
/// <param name="Availability">The Teams availability, or null for any.</param>
/// <param name="UcStatus">The UC status set while Teams shows it.</param>
public sealed record TeamsToUcRow(string Activity, string? Availability, string UcStatus)
{
    public bool Matches(TeamsPresence presence) =>
        string.Equals(Activity, presence.Activity.Value, StringComparison.OrdinalIgnoreCase)
        && (Availability is null || string.Equals(Availability, presence.Availability.Value, StringComparison.OrdinalIgnoreCase));

    public override string ToString() => $"Teams {Availability ?? "*"}/{Activity} → UC {UcStatus}";
}

/// <summary>
/// A UC state that crosses to Teams (docs/mapping.md): while it holds, our Graph session shows
/// <see cref="Availability"/>/<see cref="Activity"/>; afterwards our session is cleared (U1, U2).
/// </summary>
/// <param name="Trigger"><see cref="PresenceMapping.Phone"/> for a phone call on the PBX, or a UC status.</param>
public sealed record UcToTeamsRow(string Trigger, string Availability, string Activity)
{
    [System.Text.Json.Serialization.JsonIgnore]
    public bool IsPhone => string.Equals(Trigger, PresenceMapping.Phone, StringComparison.OrdinalIgnoreCase);

    public override string ToString() => $"UC {(IsPhone ? "phone call" : Trigger)} → Teams {Availability}/{Activity}";
}

/// <summary>What our Teams session shows: one of the pairs Graph's setPresence accepts.</summary>
public sealed record TeamsShown(string Availability, string Activity)
{
    public static readonly TeamsShown InACall = new("Busy", "InACall");

    /// <summary>Busy-on-busy: Teams itself rejects a Teams call while the user is DoNotDisturb.</summary>
    public static readonly TeamsShown DoNotDisturb = new("DoNotDisturb", "Presenting");

    public override string ToString() => $"{Availability}/{Activity}";
}

/// <summary>
/// Which states cross between Teams and UC, cluster-wide and versioned (docs/mapping.md). The seed's table is
/// <see cref="Seed"/>: InACall and InAConferenceCall set UC Busy, a UC phone call sets Teams Busy/InACall, nothing else.
/// </summary>
public sealed record PresenceMapping
{
    public const string Phone = "phone";

    /// <summary>The pairs Graph's setPresence accepts (docs/graph-api.md, section 2).</summary>
    public static readonly ImmutableArray<TeamsShown> SettablePairs =
    [
        new("Available", "Available"), TeamsShown.InACall, new("Busy", "InAConferenceCall"), new("Away", "Away"), TeamsShown.DoNotDisturb,
    ];

    /// <summary>0 for the built-in table; every saved edit gets the next number.</summary>
    public int Version { get; init; }

    public ImmutableArray<TeamsToUcRow> TeamsToUc { get; init; } = [];

    public ImmutableArray<UcToTeamsRow> UcToTeams { get; init; } = [];

    /// <summary>During a UC phone call Teams shows DoNotDisturb/Presenting instead, so that Teams rejects Teams calls.</summary>
    public bool BusyOnBusy { get; init; }

    /// <summary>Teams user ids with busy-on-busy on whatever <see cref="BusyOnBusy"/> says.</summary>
    public ImmutableArray<string> BusyOnBusyOn { get; init; } = [];

    /// <summary>Teams user ids with busy-on-busy off whatever <see cref="BusyOnBusy"/> says.</summary>
    public ImmutableArray<string> BusyOnBusyOff { get; init; } = [];

    /// <summary>The seed's table exactly.</summary>
    /// <summary>The activities the seed counts as a call (presence.callActivities' default).</summary>
    public static IReadOnlyList<TeamsActivity> SeedCallActivities { get; } = [TeamsActivity.InACall, TeamsActivity.InAConferenceCall];

    public static PresenceMapping Seed { get; } = SeedWith(SeedCallActivities);

    /// <summary>The seed's table with other "in a call" activities (presence.callActivities).</summary>
    public static PresenceMapping SeedWith(IEnumerable<TeamsActivity> callActivities) => new()
    {
        TeamsToUc = [.. callActivities.Select(a => new TeamsToUcRow(a.Value, null, UcStatus.Busy.Value))],
        UcToTeams = [new UcToTeamsRow(Phone, TeamsShown.InACall.Availability, TeamsShown.InACall.Activity)],
    };

    /// <summary>The UC status a Teams state sets, or null when it does not cross.</summary>
    public UcStatus? UcStatusFor(TeamsPresence presence)
    {
        foreach (var row in TeamsToUc)
        {
            if (row.Matches(presence))
                return UcStatus.Of(row.UcStatus);
        }

        return null;
    }

    /// <summary>What our Teams session must show for this UC state, or null when nothing crosses.</summary>
    public TeamsShown? TeamsShownFor(string teamsUserId, bool onPhone, UcStatus? ucStatus)
    {
        foreach (var row in UcToTeams)
        {
            if (row.IsPhone ? onPhone : ucStatus is not null && ucStatus.Matches(UcStatus.Of(row.Trigger)))
                return row.IsPhone && BusyOnBusyFor(teamsUserId) ? TeamsShown.DoNotDisturb : new TeamsShown(row.Availability, row.Activity);
        }

        return null;
    }

    /// <summary>Users listed in <see cref="BusyOnBusyOn"/> or <see cref="BusyOnBusyOff"/> at most: the table travels to every node.</summary>
    public const int MaxListedUsers = 2_000;

    /// <summary>
    /// The table as one user is judged by it, with their busy-on-busy resolved and no user lists: what a user's state
    /// keeps, so that its journal replays under the table it was written under (docs/decisions.md, "The mapping is data").
    /// </summary>
    public PresenceMapping ForUser(string teamsUserId) =>
        this with { BusyOnBusy = BusyOnBusyFor(teamsUserId), BusyOnBusyOn = [], BusyOnBusyOff = [] };

    /// <summary>The same table with its names trimmed (what a save stores).</summary>
    public PresenceMapping Trimmed() => this with
    {
        TeamsToUc = TeamsToUc.IsDefault ? TeamsToUc : [.. TeamsToUc.Select(r => r is null ? r! : new TeamsToUcRow(r.Activity?.Trim()!, r.Availability?.Trim(), r.UcStatus?.Trim()!))],
        UcToTeams = UcToTeams.IsDefault ? UcToTeams : [.. UcToTeams.Select(r => r is null ? r! : new UcToTeamsRow(r.Trigger?.Trim()!, r.Availability?.Trim()!, r.Activity?.Trim()!))],
        BusyOnBusyOn = BusyOnBusyOn.IsDefault ? BusyOnBusyOn : [.. BusyOnBusyOn.Select(i => i?.Trim()!)],
        BusyOnBusyOff = BusyOnBusyOff.IsDefault ? BusyOnBusyOff : [.. BusyOnBusyOff.Select(i => i?.Trim()!)],
    };

    public bool BusyOnBusyFor(string teamsUserId) =>
        BusyOnBusy
            ? !BusyOnBusyOff.Contains(teamsUserId, StringComparer.OrdinalIgnoreCase)
            : BusyOnBusyOn.Contains(teamsUserId, StringComparer.OrdinalIgnoreCase);

    /// <summary>The same table (rows and options), whatever the version numbers.</summary>
    public bool SameRulesAs(PresenceMapping other) =>
        TeamsToUc.SequenceEqual(other.TeamsToUc) && UcToTeams.SequenceEqual(other.UcToTeams) && BusyOnBusy == other.BusyOnBusy
        && BusyOnBusyOn.SequenceEqual(other.BusyOnBusyOn) && BusyOnBusyOff.SequenceEqual(other.BusyOnBusyOff);

    /// <summary>One message per problem, naming the row (teamsToUc[i], ucToTeams[j]) or field; empty when valid.</summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        if (TeamsToUc.IsDefault || UcToTeams.IsDefault || BusyOnBusyOn.IsDefault || BusyOnBusyOff.IsDefault)
            return ["teamsToUc, ucToTeams, busyOnBusyOn and busyOnBusyOff must be lists (they may be empty)."];
        if (TeamsToUc.Any(r => r is null) || UcToTeams.Any(r => r is null))
        {
            return [.. TeamsToUc.Select((r, i) => (r, i)).Where(x => x.r is null).Select(x => $"teamsToUc[{x.i}] is empty: a row needs activity and ucStatus.")
                .Concat(UcToTeams.Select((r, i) => (r, i)).Where(x => x.r is null).Select(x => $"ucToTeams[{x.i}] is empty: a row needs trigger, availability and activity."))];
        }

        for (var i = 0; i < TeamsToUc.Length; i++)
        {
            var row = TeamsToUc[i];
            var name = $"teamsToUc[{i}] ({row})";
            if (string.IsNullOrWhiteSpace(row.Activity) || !TeamsActivity.Parse(row.Activity).IsDocumented)
                problems.Add($"{name}: activity '{row.Activity}' is not a documented Teams activity.");
            else if (row.Availability is not null && (string.IsNullOrWhiteSpace(row.Availability) || !TeamsAvailability.Parse(row.Availability).IsDocumented))
                problems.Add($"{name}: availability '{row.Availability}' is not a documented Teams availability (leave it out for any).");
            if (string.IsNullOrWhiteSpace(row.UcStatus))
                problems.Add($"{name}: ucStatus must name the UC status to set.");
            for (var j = 0; j < i; j++)
            {
                if (Shadows(TeamsToUc[j], row))
                    problems.Add($"{name}: never applies: teamsToUc[{j}] ({TeamsToUc[j]}) comes first and matches every state it does.");
            }
        }

        for (var i = 0; i < UcToTeams.Length; i++)
        {
            var row = UcToTeams[i];
            var name = $"ucToTeams[{i}] ({row})";
            if (string.IsNullOrWhiteSpace(row.Trigger))
                problems.Add($"{name}: trigger must be \"{Phone}\" or a UC status.");
            if (!SettablePairs.Contains(new TeamsShown(row.Availability, row.Activity)))
                problems.Add($"{name}: Graph's setPresence accepts only {string.Join(", ", SettablePairs)}.");
            for (var j = 0; j < i; j++)
            {
                if (string.Equals(UcToTeams[j].Trigger, row.Trigger, StringComparison.OrdinalIgnoreCase))
                    problems.Add($"{name}: the same trigger as ucToTeams[{j}].");
            }

            // A row whose UC status a Teams row sets would send our own UC write back to Teams: a loop.
            for (var t = 0; t < TeamsToUc.Length; t++)
            {
                if (!row.IsPhone && string.Equals(TeamsToUc[t].UcStatus, row.Trigger, StringComparison.OrdinalIgnoreCase))
                    problems.Add($"teamsToUc[{t}] ({TeamsToUc[t]}) and {name} could loop: the UC status the first sets is what the second sends back to Teams.");
            }
        }

        if ((BusyOnBusy || !BusyOnBusyOn.IsEmpty) && !UcToTeams.Any(r => r.IsPhone))
            problems.Add("busyOnBusy: needs a ucToTeams row for the phone call (trigger \"phone\"), whose Teams state it replaces.");
        foreach (var (field, ids) in new[] { ("busyOnBusyOn", BusyOnBusyOn), ("busyOnBusyOff", BusyOnBusyOff) })
        {
            if (ids.Any(string.IsNullOrWhiteSpace))
                problems.Add($"{field}: an entry is empty; list Teams user ids.");
            if (ids.Length > MaxListedUsers)
                problems.Add($"{field}: {ids.Length} users; at most {MaxListedUsers} (for more, turn busyOnBusy on or off for everyone and list the exceptions).");
        }

        return problems;
    }

    /// <summary>An earlier row matches everything a later one does: the later one can never apply.</summary>
    private static bool Shadows(TeamsToUcRow earlier, TeamsToUcRow later) =>
        string.Equals(earlier.Activity, later.Activity, StringComparison.OrdinalIgnoreCase)
        && (earlier.Availability is null || string.Equals(earlier.Availability, later.Availability, StringComparison.OrdinalIgnoreCase));
}
