using System.Text.Json;
using PresenceActors.Host.Admin;
using PresenceActors.Host.UcApi;

namespace PresenceActors.Host.Sandbox;

/// <summary>The status page's buttons that drive the simulators: mapped by the sandbox only, absent from a production node.</summary>
public static class SandboxEndpoints
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>POST /admin/status/sandbox, behind the admin surface's checks like the rest of the status page's data.</summary>
    public static IEndpointRouteBuilder MapSandboxControls(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapAdminGroup().MapPost("/status/sandbox", Drive);
        return endpoints;
    }

    private static async Task<IResult> Drive(HttpContext context, SandboxControls sandbox)
    {
        JsonElement body;
        try
        {
            body = (await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted)).RootElement;
        }
        catch (JsonException e)
        {
            return UcApiEndpoints.Problem(400, "body", $"The body must be a JSON object: {e.Message}");
        }

        string Text(string field) =>
            body.ValueKind == JsonValueKind.Object && body.TryGetProperty(field, out var v) && v.ValueKind == JsonValueKind.String
                ? v.GetString()!
                : throw new ArgumentException($"'{field}' (a string) is required.", field);
        bool Flag(string field) =>
            body.ValueKind == JsonValueKind.Object && body.TryGetProperty(field, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False
                ? v.GetBoolean()
                : throw new ArgumentException($"'{field}' (true or false) is required.", field);

        try
        {
            var action = Text("action");
            var message = action switch
            {
                "teams-call" => await sandbox.TeamsCallAsync(Text("user"), Flag("active")),
                "uc-call" => await sandbox.UcCallAsync(Text("user"), Flag("active")),
                "teams-status" => await sandbox.TeamsStatusAsync(Text("user"), Text("availability")),
                "front-end" => await sandbox.FrontEndAsync(body.TryGetProperty("index", out var i) && i.TryGetInt32(out var n) ? n : throw new ArgumentException("'index' (a number) is required.", "index"), Flag("up")),
                _ => throw new ArgumentException($"'{action}' is not one of teams-call, uc-call, teams-status, front-end.", "action"),
            };
            return Results.Json(new { ok = true, message }, Json);
        }
        catch (ArgumentException e)
        {
            return UcApiEndpoints.Problem(400, e.ParamName ?? "body", e.Message.Split(" (Parameter")[0]);
        }
        catch (InvalidOperationException e)
        {
            return UcApiEndpoints.Problem(400, "body", e.Message);
        }
    }
}
