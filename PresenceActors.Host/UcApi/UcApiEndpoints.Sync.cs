using Akka.Actor;
using Akka.Hosting;
using PresenceActors.Registration;
using static PresenceActors.Registration.UserRegistryCommands;

namespace PresenceActors.Host.UcApi;

/// <summary>
/// Per-user opt-out (docs/mapping.md, "Leaving a user out"): <c>PUT /api/v1/users/{ucUserId}/sync</c> with
/// <c>{"enabled": false}</c> leaves a registered user out of the synchronisation, <c>true</c> takes them back.
/// </summary>
public static partial class UcApiEndpoints
{
    public static RouteGroupBuilder MapSyncSetting(this RouteGroupBuilder api)
    {
        api.MapPut("/users/{ucUserId}/sync", async (string ucUserId, HttpContext context, IRequiredActor<UserRegistryKey> registry) =>
        {
            var body = await JsonRequest.ReadAsync<SyncRequest>(context, MaxBodyBytes);
            return body.Problem ?? await SetSynchronisedAsync(registry.ActorRef, ucUserId, body.Value!.Enabled!.Value, "internal API");
        });
        return api;
    }

    /// <summary>Opts the UC user out or in; 404 when they are not registered. Shared with the admin port's <c>presence opt-out</c>.</summary>
    public static async Task<IResult> SetSynchronisedAsync(IActorRef registry, string ucUserId, bool synchronised, string by)
    {
        var setting = await registry.Ask<SyncSetting>(new SetSynchronised(ucUserId, synchronised, by), AskTimeout);
        if (setting.Mapping is null)
            return Problem(404, "ucUserId", $"UC user '{ucUserId}' is not registered.");
        return Results.Json(new
        {
            ucUserId = setting.Mapping.UcUserId,
            teamsUserId = setting.Mapping.TeamsUserId,
            synchronised = setting.Synchronised,
            message = synchronised
                ? $"{ucUserId} is synchronised again."
                : $"{ucUserId} is left out: whatever is in progress is wound down (UC restored, our Teams session cleared), then nothing is written for them.",
        });
    }
}
