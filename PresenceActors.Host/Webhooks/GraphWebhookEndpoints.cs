using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;
using PresenceActors.Ingress;
using PresenceActors.Webhooks;

namespace PresenceActors.Host.Webhooks;

/// <summary>The public surface Graph calls (docs/decisions.md, "Persist-first ingress"): the validation handshake, notifications and lifecycle events.</summary>
public static class GraphWebhookEndpoints
{
    /// <summary>The per-source rate limit's policy name (GraphWebhookSetup.AddGraphWebhook registers it).</summary>
    public const string RateLimitPolicy = "webhook-per-source";

    public static IEndpointRouteBuilder MapGraphWebhook(this IEndpointRouteBuilder endpoints, long maxBodyBytes, bool rateLimited = true)
    {
        var graph = endpoints.MapGroup("/graph");
        if (rateLimited)
            graph.RequireRateLimiting(RateLimitPolicy);
        graph.MapPost("/listen", (HttpContext context, NotificationAdmission admission) =>
            Handle(context, maxBodyBytes, (root, body) => admission.AdmitAsync(IngressKind.Notifications, root, body, context.RequestAborted)));
        graph.MapPost("/lifecycle", (HttpContext context, NotificationAdmission admission) =>
            Handle(context, maxBodyBytes, (root, body) => admission.AdmitAsync(IngressKind.Lifecycle, root, body, context.RequestAborted)));
        return endpoints;
    }

    private static async Task<IResult> Handle(HttpContext context, long maxBodyBytes, Func<JsonElement, string, Task<WebhookOutcome>> process)
    {
        // The handshake: echo the URL-decoded token exactly, as plain text no browser may reinterpret.
        if (context.Request.Query.TryGetValue("validationToken", out var token))
        {
            context.Response.Headers.XContentTypeOptions = "nosniff";
            return Results.Text(token.ToString(), "text/plain; charset=utf-8");
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            limit.MaxRequestBodySize = maxBodyBytes;
        if (context.Request.ContentLength > maxBodyBytes)
            return Problem(413, "body", $"The body is larger than {maxBodyBytes} bytes.");
        if (context.Request.ContentType is not { } type || !type.StartsWith("application/json", StringComparison.OrdinalIgnoreCase))
            return Problem(415, "Content-Type", "Notifications must be application/json.");

        JsonDocument document;
        string text;
        try
        {
            var body = await RequestBody.ReadAsync(context, maxBodyBytes);
            if (body is null)
                return Problem(413, "body", $"The body is larger than {maxBodyBytes} bytes.");
            // JSON strings are only decoded when read: refuse invalid UTF-8 before anything reads one.
            if (!System.Text.Unicode.Utf8.IsValid(body.Value.Span))
                return Problem(400, "body", "The body is not valid UTF-8.");
            document = JsonDocument.Parse(body.Value, new JsonDocumentOptions { MaxDepth = 16 });
            text = System.Text.Encoding.UTF8.GetString(body.Value.Span);
        }
        catch (JsonException e)
        {
            return Problem(400, "body", $"The body is not valid JSON: {e.Message}");
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return Problem(413, "body", $"The body is larger than {maxBodyBytes} bytes.");
        }

        using (document)
        {
            switch (await process(document.RootElement, text))
            {
                case WebhookOutcome.Accepted:
                    return Results.Accepted();
                case WebhookOutcome.Refused:
                    context.Response.Headers.RetryAfter = "5";
                    return Problem(503, "value", "The notifications could not be stored right now (the backlog is full or the database is slow); send them again.");
                case WebhookOutcome.UnknownSubscriptionsFull:
                    context.Response.Headers.RetryAfter = "30";
                    return Problem(503, "subscriptionId", "Notifications for subscriptions this service has not published yet already wait up to their bound; send them again later.");
                case WebhookOutcome.TooManyItems:
                    return Problem(413, "value", $"A request carries at most {NotificationAdmission.MaxItemsPerRequest} notifications.");
                case WebhookOutcome.UnknownCertificate:
                    context.Response.Headers.RetryAfter = "5";
                    return Problem(503, "encryptedContent", "A notification is encrypted for a certificate this node does not hold; send it again.");
                default:
                    return Problem(400, "value", "The body must be a JSON object with a 'value' array of notifications.");
            }
        }
    }

    private static IResult Problem(int status, string field, string detail) => HttpProblem.Of(status, field, detail);
}
