using PresenceActors.Simulators.Common;
using System.Text.Json.Nodes;

namespace PresenceActors.Simulators.Graph;

/// <summary>
/// The control API under /_sim: create users, start and end Teams calls and meetings, set a user's own status,
/// inject faults and token errors, misbehave on delivery, lose subscriptions, read the call log, reset.
/// </summary>
internal static class GraphControlEndpoints
{
    public static void Map(WebApplication app, GraphSimulator sim)
    {
        var control = app.MapGroup("/_sim").AddEndpointFilter(async (context, next) =>
        {
            try
            {
                return await next(context);
            }
            catch (SimGraphError e)
            {
                return GraphEndpoints.Error(e.Status, e.Code, e.Message);
            }
            catch (Exception e) when (e is InvalidOperationException or FormatException or System.Text.Json.JsonException or KeyNotFoundException)
            {
                return GraphEndpoints.Error(400, "BadRequest", e.Message);
            }
        });

        control.MapGet("/tenant", () => Results.Json(new JsonObject
        {
            ["tenantId"] = sim.Tenant.TenantId,
            ["authorityHost"] = sim.AuthorityHost.ToString(),
            ["graphUrl"] = sim.GraphUrl.ToString(),
            ["openIdConfiguration"] = sim.OpenIdConfigurationUrl.ToString(),
            ["certificateThumbprint"] = sim.Certificate.Thumbprint,
        })).Api("sim.tenant");
        control.MapGet("/certificate.pem", () => Results.Text(sim.Certificate.ExportCertificatePem(), "application/x-pem-file")).Api("sim.certificate");

        control.MapPost("/users", async (HttpContext c) =>
        {
            var body = await Body(c);
            var user = sim.Tenant.AddUser(Text(body, "userPrincipalName"), body["displayName"]?.GetValue<string>(),
                body["mail"]?.GetValue<string>(), body["password"]?.GetValue<string>(), body["technical"]?.GetValue<bool>() ?? false,
                body["id"]?.GetValue<string>());
            return Results.Json(UserView(user), statusCode: 201);
        }).Api("sim.users.create");
        control.MapGet("/users", () => Results.Json(new JsonArray(sim.Tenant.Users().Select(u => (JsonNode)UserView(u)).ToArray()))).Api("sim.users.list");
        control.MapPost("/users/{id}/teams-call", async (string id, HttpContext c) =>
        {
            var body = await Body(c);
            var active = body["active"]?.GetValue<bool>() ?? true;
            var conference = body["conference"]?.GetValue<bool>() ?? false;
            sim.Tenant.SetClient(User(sim, id).Id, active ? (conference ? TeamsClientState.InAConferenceCall : TeamsClientState.InACall) : TeamsClientState.Available);
            return Results.Json(UserView(User(sim, id)));
        }).Api("sim.users.call");
        // Someone calls the user on Teams: whether it rings (docs/mapping.md, "Busy-on-busy").
        control.MapPost("/users/{id}/incoming-teams-call", (string id) => Results.Json(sim.Tenant.IncomingTeamsCall(User(sim, id).Id))).Api("sim.users.incoming-call");
        control.MapPost("/busy-on-busy-policy", async (HttpContext c) =>
        {
            sim.Tenant.BusyOnBusyPolicy = (await Body(c))["enabled"]?.GetValue<bool>() ?? true;
            return Results.Json(new { enabled = sim.Tenant.BusyOnBusyPolicy });
        }).Api("sim.policy.busy-on-busy");
        control.MapPost("/users/{id}/client", async (string id, HttpContext c) =>
        {
            sim.Tenant.SetClient(User(sim, id).Id, Enum.Parse<TeamsClientState>(Text(await Body(c), "state"), ignoreCase: true));
            return Results.Json(UserView(User(sim, id)));
        }).Api("sim.users.client");
        control.MapPost("/users/{id}/meeting", async (string id, HttpContext c) =>
        {
            sim.Tenant.SetMeeting(User(sim, id).Id, (await Body(c))["active"]?.GetValue<bool>() ?? true);
            return Results.Json(UserView(User(sim, id)));
        }).Api("sim.users.meeting");
        control.MapPost("/users/{id}/preferred", async (string id, HttpContext c) =>
        {
            var body = await Body(c);
            var minutes = body["expirationMinutes"]?.GetValue<double>();
            sim.Tenant.SetPreferredPresence(User(sim, id).Id, Text(body, "availability"), Text(body, "activity"),
                minutes is { } m ? TimeSpan.FromMinutes(m) : null);
            return Results.Json(UserView(User(sim, id)));
        }).Api("sim.users.preferred");
        control.MapDelete("/users/{id}/preferred", (string id) =>
        {
            sim.Tenant.ClearPreferredPresence(User(sim, id).Id);
            return Results.Json(UserView(User(sim, id)));
        }).Api("sim.users.preferred.clear");
        control.MapPost("/users/{id}/token-error", async (string id, HttpContext c) =>
        {
            User(sim, id).InjectedError = (await Body(c))["code"]?.GetValue<int>();
            return Results.NoContent();
        }).Api("sim.users.token-error");
        control.MapPost("/apps/{clientId}/token-error", async (string clientId, HttpContext c) =>
        {
            App(sim, clientId).InjectedError = (await Body(c))["code"]?.GetValue<int>();
            return Results.NoContent();
        }).Api("sim.apps.token-error");
        control.MapPost("/apps/{clientId}/public-client", async (string clientId, HttpContext c) =>
        {
            App(sim, clientId).AllowPublicClientFlows = (await Body(c))["allowed"]?.GetValue<bool>() ?? true;
            return Results.NoContent();
        }).Api("sim.apps.public-client");

        control.MapPost("/faults", async (HttpContext c) =>
        {
            var body = await Body(c);
            sim.Faults.Add(new SimFault
            {
                Api = Text(body, "api"),
                Status = body["status"]?.GetValue<int>() ?? 503,
                RetryAfterSeconds = body["retryAfterSeconds"]?.GetValue<double>(),
                Count = body["count"]?.GetValue<int>(),
                Rate = body["rate"]?.GetValue<double>() ?? 1.0,
                LatencyMs = body["latencyMs"]?.GetValue<int>() ?? 0,
            });
            return Results.NoContent();
        }).Api("sim.faults.add");
        control.MapDelete("/faults", () =>
        {
            sim.Faults.Clear();
            return Results.NoContent();
        }).Api("sim.faults.clear");
        control.MapPost("/rate-limits", async (HttpContext c) =>
        {
            sim.Faults.RateLimitsEnabled = (await Body(c))["enabled"]?.GetValue<bool>() ?? true;
            return Results.NoContent();
        }).Api("sim.rate-limits");
        control.MapPost("/delivery", async (HttpContext c) =>
        {
            var body = await Body(c);
            sim.Delivery.Faults = new SimDeliveryFaults
            {
                DropRate = body["dropRate"]?.GetValue<double>() ?? 0,
                DuplicateRate = body["duplicateRate"]?.GetValue<double>() ?? 0,
                ReorderRate = body["reorderRate"]?.GetValue<double>() ?? 0,
                LatencyMs = body["latencyMs"]?.GetValue<int>() ?? 0,
            };
            return Results.NoContent();
        }).Api("sim.delivery");

        control.MapGet("/subscriptions", () => Results.Json(new JsonArray(sim.Tenant.ListSubscriptions().Select(s =>
        {
            var json = GraphEndpoints.SubscriptionJson(sim, s);
            json["userCount"] = s.UserIds.Count;
            return (JsonNode)json;
        }).ToArray()))).Api("sim.subscriptions");
        control.MapPost("/subscriptions/{id}/lose", (string id) =>
            sim.Tenant.LoseSubscription(id) ? Results.NoContent() : Results.NotFound()).Api("sim.subscriptions.lose");
        control.MapPost("/subscriptions/{id}/lifecycle", async (string id, HttpContext c) =>
        {
            var subscription = sim.Tenant.ListSubscriptions().FirstOrDefault(s => s.Id == id);
            if (subscription is null)
                return Results.NotFound();
            var sent = await sim.Delivery.SendLifecycleAsync(subscription, (await Body(c))["event"]?.GetValue<string>() ?? "reauthorizationRequired");
            return sent ? Results.NoContent() : Results.Problem("The lifecycle notification could not be delivered.", statusCode: 502);
        }).Api("sim.subscriptions.lifecycle");

        control.MapGet("/calls", (string? api) => Results.Json(sim.Faults.Calls
            .Where(call => api is null || call.Api == api)
            .Select(call => new { call.At, call.Method, call.Path, call.Api, call.Caller, call.Status, call.RetryAfterSeconds }))).Api("sim.calls");
        control.MapDelete("/calls", () =>
        {
            sim.Faults.ClearCalls();
            return Results.NoContent();
        }).Api("sim.calls.clear");
        control.MapPost("/reset", () =>
        {
            sim.Tenant.Reset();
            sim.Faults.Clear();
            sim.Faults.ClearCalls();
            sim.Delivery.Faults = new SimDeliveryFaults();
            return Results.NoContent();
        }).Api("sim.reset");
    }

    private static SimUser User(GraphSimulator sim, string id) =>
        sim.Tenant.FindUser(id) ?? throw new SimGraphError(404, "Request_ResourceNotFound", $"No simulated user '{id}'.");

    private static SimApplication App(GraphSimulator sim, string clientId) =>
        sim.Tenant.FindApplication(clientId) ?? throw new SimGraphError(404, "Request_ResourceNotFound", $"No simulated application '{clientId}'.");

    private static JsonObject UserView(SimUser user) => new()
    {
        ["id"] = user.Id,
        ["userPrincipalName"] = user.UserPrincipalName,
        ["displayName"] = user.DisplayName,
        ["technical"] = user.Technical,
        ["availability"] = user.ShownAvailability,
        ["activity"] = user.ShownActivity,
        ["sequenceNumber"] = user.SequenceNumber,
        ["client"] = user.Client.ToString(),
        ["inMeeting"] = user.InMeeting,
        ["preferred"] = user.Preferred is { } p ? $"{p.Availability}/{p.Activity}" : null,
        ["sessions"] = new JsonArray(user.Sessions.Select(s => (JsonNode)$"{s.Key}: {s.Value.Availability}/{s.Value.Activity} until {s.Value.ExpiresAt:O}").ToArray()),
    };

    private static async Task<JsonObject> Body(HttpContext context) =>
        context.Request.ContentLength is 0 or null && !context.Request.Headers.TransferEncoding.Any()
            ? new JsonObject()
            : await JsonNode.ParseAsync(context.Request.Body) as JsonObject ?? new JsonObject();

    private static string Text(JsonObject body, string property) =>
        body[property]?.GetValue<string>() is { Length: > 0 } value
            ? value
            : throw new SimGraphError(400, "BadRequest", $"'{property}' is required.");
}
