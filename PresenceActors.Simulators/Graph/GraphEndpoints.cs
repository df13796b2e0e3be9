using PresenceActors.Simulators.Common;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using System.Xml;

namespace PresenceActors.Simulators.Graph;

/// <summary>The caller of a Graph request, from its verified bearer token.</summary>
internal sealed record GraphCaller(string AppId, string? UserId)
{
    public bool IsApp => UserId is null;

    public override string ToString() => UserId is null ? $"app:{AppId}" : $"user:{UserId}";
}

/// <summary>Microsoft Graph v1.0 as the SDK uses it: users, presence, subscriptions (docs/graph-api.md, sections 1 to 4).</summary>
internal static partial class GraphEndpoints
{
    public static void Map(WebApplication app, GraphSimulator sim)
    {
        var v1 = app.MapGroup("/v1.0").AddEndpointFilter(async (context, next) =>
        {
            try
            {
                if (Authenticate(sim, context.HttpContext) is null)
                    return Error(401, "InvalidAuthenticationToken", "Access token is empty or invalid.");
                return await next(context);
            }
            catch (SimGraphError e)
            {
                return Error(e.Status, e.Code, e.Message);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // A simulator bug: say what broke instead of an empty 500, so a failing test names its cause.
                return Error(500, "generalException", $"Simulator fault: {e.GetType().Name}: {e.Message}");
            }
        });

        v1.MapGet("/users/{id}", (string id) => Results.Json(UserJson(sim.Tenant.FindUser(id)
            ?? throw new SimGraphError(404, "Request_ResourceNotFound", $"Resource '{id}' does not exist or one of its queried reference-property objects are not present.")))).Api("users.get");
        v1.MapGet("/users", (HttpContext context) => ListUsers(sim, context.Request.Query["$filter"].ToString())).Api("users.list");
        v1.MapPost("/$batch", (Delegate)((HttpContext context) => BatchAsync(sim, context))).Api("batch");

        v1.MapGet("/users/{id}/presence", (string id) => PresenceJson(sim, id)).Api("presence.get");
        v1.MapGet("/communications/presences/{id}", (string id) => PresenceJson(sim, id)).Api("presence.get");
        v1.MapPost("/communications/getPresencesByUserId", async (HttpContext context) =>
        {
            var body = await ReadBody(context);
            var ids = (body["ids"] as JsonArray)?.Select(n => n?.GetValue<string>() ?? "").ToList()
                      ?? throw new SimGraphError(400, "BadRequest", "The request body must contain 'ids'.");
            var presences = sim.Tenant.GetPresences(ids);
            return Results.Json(new JsonObject
            {
                ["@odata.context"] = $"{sim.GraphUrl}$metadata#Collection(microsoft.graph.presence)",
                ["value"] = new JsonArray(presences.Select(p => (JsonNode)Presence(p.Id, p.Availability, p.Activity, p.SequenceNumber)).ToArray()),
            });
        }).Api("presence.getByUserId");

        v1.MapPost("/users/{id}/presence/setPresence", async (string id, HttpContext context) =>
        {
            var caller = Authenticate(sim, context)!;
            RequireSelfOrApp(caller, id);
            var body = await ReadBody(context);
            sim.Tenant.SetSessionPresence(id, caller.AppId, Required(body, "sessionId"), Required(body, "availability"),
                Required(body, "activity"), Duration(body));
            return Results.Ok();
        }).Api("presence.set");
        v1.MapPost("/users/{id}/presence/clearPresence", async (string id, HttpContext context) =>
        {
            var caller = Authenticate(sim, context)!;
            RequireSelfOrApp(caller, id);
            var body = await ReadBody(context);
            sim.Tenant.ClearSessionPresence(id, caller.AppId, Required(body, "sessionId"));
            return Results.Ok();
        }).Api("presence.clear");
        v1.MapPost("/users/{id}/presence/setUserPreferredPresence", async (string id, HttpContext context) =>
        {
            RequireSelfOrApp(Authenticate(sim, context)!, id);
            var body = await ReadBody(context);
            sim.Tenant.SetPreferredPresence(id, Required(body, "availability"), Required(body, "activity"), Duration(body));
            return Results.Ok();
        }).Api("presence.setPreferred");
        v1.MapPost("/users/{id}/presence/clearUserPreferredPresence", (string id, HttpContext context) =>
        {
            RequireSelfOrApp(Authenticate(sim, context)!, id);
            sim.Tenant.ClearPreferredPresence(id);
            return Results.Ok();
        }).Api("presence.clearPreferred");

        v1.MapPost("/subscriptions", (Delegate)((HttpContext context) => CreateSubscription(sim, context))).Api("subscriptions.create");
        // Delegated: the subscriptions the calling app created for the signed-in user; app-only: all the app's
        // (graph-api.md, section 3, "List").
        v1.MapGet("/subscriptions", (HttpContext context) =>
        {
            var caller = Authenticate(sim, context)!;
            var listed = sim.Tenant.ListSubscriptions(caller.AppId).Where(s => caller.IsApp || string.Equals(s.CreatorId, caller.UserId, StringComparison.OrdinalIgnoreCase));
            return Results.Json(new JsonObject { ["value"] = new JsonArray(listed.Select(s => (JsonNode)SubscriptionJson(sim, s)).ToArray()) });
        }).Api("subscriptions.list");
        v1.MapGet("/subscriptions/{id}", (string id, HttpContext context) =>
            Results.Json(SubscriptionJson(sim, sim.Tenant.GetSubscription(id, Authenticate(sim, context)!.AppId)))).Api("subscriptions.get");
        v1.MapPatch("/subscriptions/{id}", async (string id, HttpContext context) =>
        {
            var caller = Authenticate(sim, context)!;
            var body = await ReadBody(context);
            var expiration = DateTimeOffset.Parse(Required(body, "expirationDateTime"), System.Globalization.CultureInfo.InvariantCulture);
            X509Certificate2? certificate = null;
            if (body["encryptionCertificate"]?.GetValue<string>() is { Length: > 0 } encoded)
                certificate = ParseCertificate(encoded);
            var renewed = sim.Tenant.RenewSubscription(id, caller.AppId, expiration, certificate, body["encryptionCertificateId"]?.GetValue<string>());
            return Results.Json(SubscriptionJson(sim, renewed));
        }).Api("subscriptions.renew");
        v1.MapDelete("/subscriptions/{id}", (string id, HttpContext context) =>
        {
            sim.Tenant.DeleteSubscription(id, Authenticate(sim, context)!.AppId);
            return Results.NoContent();
        }).Api("subscriptions.delete");
        v1.MapPost("/subscriptions/{id}/reauthorize", (string id, HttpContext context) =>
        {
            sim.Tenant.GetSubscription(id, Authenticate(sim, context)!.AppId);
            return Results.NoContent();
        }).Api("subscriptions.reauthorize");
    }

    internal static GraphCaller? Authenticate(GraphSimulator sim, HttpContext context)
    {
        if (context.Items.TryGetValue(nameof(GraphCaller), out var cached))
            return cached as GraphCaller;
        GraphCaller? caller = null;
        var header = context.Request.Headers.Authorization.ToString();
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)
            && sim.Signer.Verify(header["Bearer ".Length..].Trim()) is { } claims
            && claims["aud"]?.GetValue<string>() == EntraEndpoints.GraphAudience
            && claims["exp"]?.GetValue<long>() > sim.Tenant.Clock.GetUtcNow().ToUnixTimeSeconds()
            && claims["appid"]?.GetValue<string>() is { } appId)
        {
            caller = new GraphCaller(appId, claims["oid"]?.GetValue<string>());
        }

        context.Items[nameof(GraphCaller)] = caller;
        return caller;
    }

    private static void RequireSelfOrApp(GraphCaller caller, string userId)
    {
        if (!caller.IsApp && !string.Equals(caller.UserId, userId, StringComparison.OrdinalIgnoreCase))
            throw new SimGraphError(403, "Forbidden", "A delegated caller may only change its own presence.");
    }

    private static IResult PresenceJson(GraphSimulator sim, string id)
    {
        var user = sim.Tenant.FindUser(id) ?? throw new SimGraphError(404, "Request_ResourceNotFound", $"Resource '{id}' does not exist.");
        var (availability, activity, sequence) = sim.Tenant.GetPresence(user.Id);
        return Results.Json(Presence(user.Id, availability, activity, sequence));
    }

    private static JsonObject Presence(string id, string availability, string activity, string sequenceNumber) => new()
    {
        ["id"] = id,
        ["availability"] = availability,
        ["activity"] = activity,
        ["sequenceNumber"] = sequenceNumber,
        ["statusMessage"] = null,
        ["outOfOfficeSettings"] = new JsonObject { ["message"] = null, ["isOutOfOffice"] = false },
    };

    internal static JsonObject UserJson(SimUser user) => new()
    {
        ["id"] = user.Id,
        ["displayName"] = user.DisplayName,
        ["userPrincipalName"] = user.UserPrincipalName,
        ["mail"] = user.Mail,
    };

    private static async Task<IResult> CreateSubscription(GraphSimulator sim, HttpContext context)
    {
        var caller = Authenticate(sim, context)!;
        var body = await ReadBody(context);
        var resource = Required(body, "resource");
        if (caller.IsApp)
            throw new SimGraphError(403, "ExtensionError", "Operation: Create; Exception: [Status Code: Forbidden; Reason: Application permissions are not supported for presence subscriptions; use a delegated token.]");
        if (!string.Equals(body["changeType"]?.GetValue<string>(), "updated", StringComparison.OrdinalIgnoreCase))
            throw new SimGraphError(400, "InvalidRequest", "changeType must be 'updated' for presence.");
        var notificationUrl = Required(body, "notificationUrl");
        var lifecycleUrl = body["lifecycleNotificationUrl"]?.GetValue<string>();
        var expiration = DateTimeOffset.Parse(Required(body, "expirationDateTime"), System.Globalization.CultureInfo.InvariantCulture);
        var clientState = body["clientState"]?.GetValue<string>();
        if (clientState is { Length: > 128 })
            throw new SimGraphError(400, "InvalidRequest", "clientState must be at most 128 characters.");
        var includeResourceData = body["includeResourceData"]?.GetValue<bool>() ?? false;
        var certificateText = body["encryptionCertificate"]?.GetValue<string>();
        var certificateId = body["encryptionCertificateId"]?.GetValue<string>();
        var ids = sim.Tenant.CheckNewSubscription(caller.AppId, caller.UserId!, resource, expiration, includeResourceData, certificateText, certificateId);
        var certificate = string.IsNullOrEmpty(certificateText) ? null : ParseCertificate(certificateText);

        foreach (var url in new[] { notificationUrl, lifecycleUrl }.OfType<string>())
        {
            if (!await sim.Delivery.ValidateEndpointAsync(url))
                throw new SimGraphError(400, "InvalidRequest", $"Subscription validation request failed. Notification endpoint {url} must respond with 200 OK and the validation token as text/plain within 10 seconds.{(sim.Delivery.LastValidationFailure is { } why ? $" ({why})" : "")}");
        }

        var subscription = sim.Tenant.AddSubscription(new SimSubscription
        {
            Id = Guid.NewGuid().ToString(),
            ApplicationId = caller.AppId,
            CreatorId = caller.UserId!,
            Resource = resource,
            UserIds = ids,
            NotificationUrl = notificationUrl,
            LifecycleNotificationUrl = lifecycleUrl,
            ExpirationDateTime = expiration,
            ClientState = clientState,
            IncludeResourceData = includeResourceData,
            EncryptionCertificate = certificate,
            EncryptionCertificateId = certificateId,
            LatestSupportedTlsVersion = body["latestSupportedTlsVersion"]?.GetValue<string>() ?? "v1_2",
            CreatedAt = sim.Tenant.Clock.GetUtcNow(),
        });
        return Results.Json(SubscriptionJson(sim, subscription), statusCode: 201);
    }

    private static X509Certificate2 ParseCertificate(string base64)
    {
        try
        {
            return X509CertificateLoader.LoadCertificate(Convert.FromBase64String(base64));
        }
        catch (Exception e) when (e is FormatException or System.Security.Cryptography.CryptographicException)
        {
            throw new SimGraphError(400, "InvalidRequest", "encryptionCertificate must be a base64-encoded X.509 certificate (public key only).");
        }
    }

    internal static JsonObject SubscriptionJson(GraphSimulator sim, SimSubscription s) => new()
    {
        ["@odata.context"] = $"{sim.GraphUrl}$metadata#subscriptions/$entity",
        ["id"] = s.Id,
        ["resource"] = s.Resource,
        ["applicationId"] = s.ApplicationId,
        ["changeType"] = s.ChangeType,
        ["clientState"] = s.ClientState,
        ["notificationUrl"] = s.NotificationUrl,
        ["lifecycleNotificationUrl"] = s.LifecycleNotificationUrl,
        ["expirationDateTime"] = s.ExpirationDateTime.ToString("O"),
        ["creatorId"] = s.CreatorId,
        ["includeResourceData"] = s.IncludeResourceData,
        ["latestSupportedTlsVersion"] = s.LatestSupportedTlsVersion,
        ["encryptionCertificate"] = null,
        ["encryptionCertificateId"] = s.EncryptionCertificateId,
        ["notificationUrlAppId"] = null,
    };

    /// <summary>
    /// The request's JSON object. A property given twice is refused with 400 naming it: Graph refuses such a body too
    /// and names the property (msgraph-sdk-dotnet#28), and the Graph SDK sometimes writes a property that was set to
    /// null twice (msgraph-sdk-dotnet#2768).
    /// </summary>
    private static async Task<JsonObject> ReadBody(HttpContext context)
    {
        try
        {
            using var document = await System.Text.Json.JsonDocument.ParseAsync(context.Request.Body);
            if (document.RootElement.ValueKind != System.Text.Json.JsonValueKind.Object)
                throw new SimGraphError(400, "BadRequest", "The request body must be a JSON object.");
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (!seen.Add(property.Name))
                    throw new SimGraphError(400, "BadRequest", $"The request body has the property '{property.Name}' more than once.");
            }

            return JsonObject.Create(document.RootElement.Clone())!;
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new SimGraphError(400, "BadRequest", $"Invalid JSON in the request body: {e.Message}");
        }
    }

    private static string Required(JsonObject body, string property) =>
        body[property]?.GetValue<string>() is { Length: > 0 } value
            ? value
            : throw new SimGraphError(400, "InvalidArgument", $"The property '{property}' is required.");

    private static TimeSpan? Duration(JsonObject body)
    {
        var text = body["expirationDuration"]?.GetValue<string>();
        if (string.IsNullOrEmpty(text))
            return null;
        try
        {
            return XmlConvert.ToTimeSpan(text);
        }
        catch (FormatException)
        {
            throw new SimGraphError(400, "InvalidArgument", $"Request parameter [ExpirationDuration] '{text}' is not an ISO 8601 duration.");
        }
    }

    internal static IResult Error(int status, string code, string message) => Results.Json(new JsonObject
    {
        ["error"] = new JsonObject
        {
            ["code"] = code,
            ["message"] = message,
            ["innerError"] = new JsonObject
            {
                ["date"] = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss"),
                ["request-id"] = Guid.NewGuid().ToString(),
                ["client-request-id"] = Guid.NewGuid().ToString(),
            },
        },
    }, statusCode: status);
}
