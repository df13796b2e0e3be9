using System.Collections.Immutable;
using Akka.Actor;
using Akka.Hosting;
using PresenceActors.Graph;
using PresenceActors.Host.UcApi;
using PresenceActors.Mapping;
using PresenceActors.Registration;
using PresenceActors.Subscriptions;
using PresenceActors.Users;
using static PresenceActors.Mapping.MappingCommands;

namespace PresenceActors.Host.Admin;

/// <summary>
/// The mapping on the admin port (docs/mapping.md): show it, its history (the audit trail), preview an edit against the
/// users in memory on every node, save it, and busy-on-busy per user. The status page and <c>ctl mapping</c> use these.
/// </summary>
public static class MappingEndpoints
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(10);

    /// <summary>A preview waits this long for every node's answer.</summary>
    private static readonly TimeSpan PreviewTimeout = TimeSpan.FromSeconds(30);

    /// <summary>The body of a save: the table, the version it was edited from, and why.</summary>
    public sealed record MappingEdit
    {
        public PresenceMapping? Mapping { get; init; }

        public int? BasedOn { get; init; }

        public string? Comment { get; init; }
    }

    /// <summary>The body of <c>mapping busy-on-busy</c>: a user and on, off or default (the table's global setting).</summary>
    public sealed record BusyOnBusyEdit
    {
        public string? User { get; init; }

        public string? Setting { get; init; }
    }

    public static void Map(RouteGroupBuilder admin)
    {
        admin.MapGet("/mapping", async (IRequiredActor<PresenceMappingKey> mapping) =>
            Results.Json((await mapping.ActorRef.Ask<CurrentMapping>(new GetMapping(), AskTimeout)).Mapping));
        admin.MapGet("/mapping/history", async (IRequiredActor<PresenceMappingKey> mapping) =>
            Results.Json((await mapping.ActorRef.Ask<MappingHistory>(new GetMappingHistory(), AskTimeout)).Edits));
        admin.MapPost("/mapping/preview", async (HttpContext context, ActorSystem system) =>
        {
            var (edit, problem) = await ReadEditAsync(context);
            return problem ?? Results.Json(await PreviewAsync(system, edit!.Mapping!));
        });
        admin.MapPost("/mapping", async (HttpContext context, AdminAccess access, ActorSystem system, IRequiredActor<PresenceMappingKey> mapping,
            IRequiredActor<SubscriptionPoolKey> pool) =>
        {
            var (edit, problem) = await ReadEditAsync(context);
            if (problem is not null)
                return problem;
            if (edit!.BasedOn is not { } basedOn)
                return UcApiEndpoints.Problem(400, "basedOn", "'basedOn' is required: the version the edit was made from (GET /admin/mapping shows it).");
            return await SaveAsync(system, mapping.ActorRef, pool.ActorRef, edit.Mapping!, basedOn, access.Caller(context), edit.Comment);
        });
        admin.MapPost("/mapping/busy-on-busy", async (HttpContext context, AdminAccess access, ActorSystem system, IUserDirectory directory,
            IRequiredActor<UserRegistryKey> registry, IRequiredActor<PresenceMappingKey> mapping, IRequiredActor<SubscriptionPoolKey> pool,
            CancellationToken cancellationToken) =>
        {
            var (body, problem) = await AdminAccess.ReadBodyAsync<BusyOnBusyEdit>(context);
            if (body is null)
                return problem!;
            if (body.Setting is not ("on" or "off" or "default"))
                return UcApiEndpoints.Problem(400, "setting", "'setting' must be on, off or default (the table's busyOnBusy).");
            if (string.IsNullOrWhiteSpace(body.User))
                return UcApiEndpoints.Problem(400, "user", "'user' is required: a UC user id, or a Teams user's object id, UPN or mail.");
            var (_, teamsId) = await ResolveUserAsync(body.User.Trim(), directory, registry.ActorRef, cancellationToken);
            if (teamsId is null)
                return UcApiEndpoints.Problem(404, "user", $"No UC user or Teams user '{body.User}'.");

            // Edits of other users' settings may come in between: the toggle is made again on the newer table, once.
            IResult? answer = null;
            for (var attempt = 0; attempt < 2 && answer is null or IStatusCodeHttpResult { StatusCode: 409 }; attempt++)
            {
                var current = (await mapping.ActorRef.Ask<CurrentMapping>(new GetMapping(), AskTimeout)).Mapping;
                var edited = current with
                {
                    BusyOnBusyOn = Toggle(current.BusyOnBusyOn, teamsId, body.Setting == "on" && !current.BusyOnBusy),
                    BusyOnBusyOff = Toggle(current.BusyOnBusyOff, teamsId, body.Setting == "off" && current.BusyOnBusy),
                };
                answer = await SaveAsync(system, mapping.ActorRef, pool.ActorRef, edited, current.Version, access.Caller(context),
                    $"busy-on-busy {body.Setting} for {body.User.Trim()}");
            }

            return answer!;
        });
    }

    /// <summary>The UC user id shown for a Teams user found in the directory but not registered.</summary>
    public const string NotRegistered = "(not registered)";

    /// <summary>A UC user id, or a Teams user by object id, UPN or mail: its registration (if any) and Teams object id.</summary>
    public static async Task<(UserMapping? Mapping, string? TeamsId)> ResolveUserAsync(string user, IUserDirectory directory, IActorRef registry,
        CancellationToken cancellationToken)
    {
        var mapping = (await registry.Ask<UserRegistryCommands.LookupResult>(new UserRegistryCommands.Lookup(user), AskTimeout)).Mapping;
        if (mapping is not null)
            return (mapping, mapping.TeamsUserId);
        var resolved = await directory.ResolveAsync(user, cancellationToken);
        if (resolved is null)
            return (null, null);
        var all = await registry.AllMappingsAsync(AskTimeout);
        return (all.FirstOrDefault(m => m.TeamsUserId == resolved.Id) ?? new UserMapping(NotRegistered, resolved.Id, resolved.UserPrincipalName),
            resolved.Id);
    }

    private static ImmutableArray<string> Toggle(ImmutableArray<string> ids, string id, bool present)
    {
        var without = ids.RemoveAll(i => string.Equals(i, id, StringComparison.OrdinalIgnoreCase));
        return present ? without.Add(id) : without;
    }

    private static async Task<(MappingEdit? Edit, IResult? Problem)> ReadEditAsync(HttpContext context)
    {
        var (edit, problem) = await AdminAccess.ReadBodyAsync<MappingEdit>(context);
        if (edit is null)
            return (null, problem);
        if (edit.Mapping is null)
            return (null, UcApiEndpoints.Problem(400, "mapping", "'mapping' is required: the table (GET /admin/mapping shows the one in force)."));
        var problems = edit.Mapping.Problems();
        if (problems.Count > 0)
            return (null, Results.Json(new { ok = false, field = "mapping", problems }, statusCode: 400));
        return (edit, null);
    }

    private static async Task<IResult> SaveAsync(ActorSystem system, IActorRef mapping, IActorRef pool, PresenceMapping proposed, int basedOn, string by,
        string? comment)
    {
        // The preview first: what the save will change is told with its answer (and it costs the users nothing).
        var preview = await PreviewAsync(system, proposed);
        var result = await mapping.Ask<SaveResult>(new SaveMapping(proposed, basedOn, by, string.IsNullOrWhiteSpace(comment) ? null : comment.Trim()), AskTimeout);
        if (!result.Saved)
        {
            var field = result.Problems.FirstOrDefault()?.StartsWith("basedOn", StringComparison.Ordinal) == true ? "basedOn" : "mapping";
            return Results.Json(new { ok = false, field, problems = result.Problems, current = result.Current }, statusCode: field == "basedOn" ? 409 : 400);
        }

        if (result.Current.Version == basedOn)
            return Results.Json(new { ok = true, version = result.Current.Version, message = $"The table is unchanged (version {basedOn})." });
        // Users not in memory are judged by the new table when they next start: a bulk read of everyone starts them now.
        pool.Tell(new SubscriptionPoolCommands.Resync([], Always: true));
        return Results.Json(new
        {
            ok = true,
            version = result.Current.Version,
            changing = preview.Changing,
            changes = preview.Changes,
            message = $"Version {result.Current.Version} saved. {preview.Changing} of {preview.Examined} users in memory change now; every other user is judged by it at the bulk read that follows.",
        });
    }

    /// <summary>The preview of every node that answers, merged: users in memory examined, and those that would change.</summary>
    public sealed record ClusterPreview(int Examined, int Changing, IReadOnlyList<PreviewChange> Changes, IReadOnlyList<string> Silent);

    private static async Task<ClusterPreview> PreviewAsync(ActorSystem system, PresenceMapping proposed)
    {
        var members = Akka.Cluster.Cluster.Get(system).State.Members.Where(m => m.Status == Akka.Cluster.MemberStatus.Up).ToList();
        var answers = await Task.WhenAll(members.Select(async member =>
        {
            try
            {
                var follower = system.ActorSelection(new RootActorPath(member.Address) / "user" / "mapping-follower");
                return (member.Address, Result: await follower.Ask<PreviewResult>(new PreviewMapping(proposed), PreviewTimeout));
            }
            catch (Exception)
            {
                // Not answered in time, or its follower failed: the node is listed as silent, its users not previewed.
                return (member.Address, Result: (PreviewResult?)null);
            }
        }));
        return new ClusterPreview(
            answers.Sum(a => a.Result?.Examined ?? 0),
            answers.Sum(a => a.Result?.Changing ?? 0),
            [.. answers.SelectMany(a => a.Result?.Changes ?? []).OrderBy(c => c.UcUserId ?? c.UserId, StringComparer.Ordinal)],
            [.. answers.Where(a => a.Result is null).Select(a => a.Address.ToString())]);
    }
}
