using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using PresenceActors.Simulators.Common;

namespace PresenceActors.Tests.Support;

/// <summary>A bare HTTPS webhook for simulator tests: answers the validation handshake and keeps every POST body.</summary>
internal sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Channel<JsonObject> _notifications = Channel.CreateUnbounded<JsonObject>();
    private readonly Channel<JsonObject> _lifecycle = Channel.CreateUnbounded<JsonObject>();

    private WebhookReceiver(WebApplication app) => _app = app;

    public string NotificationUrl { get; private set; } = "";

    public string LifecycleUrl { get; private set; } = "";

    /// <summary>Status the receiver answers notifications with (tests flip it to make Graph retry).</summary>
    public volatile int Status = 202;

    /// <summary>Runs before the receiver answers a notification it has taken (tests make it slow by moving a clock).</summary>
    public volatile Action? BeforeAnswer;

    public static async Task<WebhookReceiver> StartAsync()
    {
        var certificate = SimulatorCertificate.Create("test webhook");
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.UseHttps(certificate)));
        var app = builder.Build();
        var receiver = new WebhookReceiver(app);
        app.MapPost("/listen", (Delegate)((HttpContext c) => receiver.Handle(c, receiver._notifications)));
        app.MapPost("/lifecycle", (Delegate)((HttpContext c) => receiver.Handle(c, receiver._lifecycle)));
        await app.StartAsync();
        var root = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().Replace("localhost", "127.0.0.1");
        receiver.NotificationUrl = $"{root}/listen";
        receiver.LifecycleUrl = $"{root}/lifecycle";
        return receiver;
    }

    private async Task<IResult> Handle(HttpContext context, Channel<JsonObject> into)
    {
        if (context.Request.Query.TryGetValue("validationToken", out var token))
            return Results.Text(token.ToString(), "text/plain");
        if (Status >= 300)
            return Results.StatusCode(Status);
        var body = await JsonNode.ParseAsync(context.Request.Body) as JsonObject;
        into.Writer.TryWrite(body!);
        BeforeAnswer?.Invoke();
        return Results.Accepted();
    }

    public async Task<JsonObject> NextNotificationAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(15));
        return await _notifications.Reader.ReadAsync(cts.Token);
    }

    public async Task<JsonObject> NextLifecycleAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(15));
        return await _lifecycle.Reader.ReadAsync(cts.Token);
    }

    public bool TryTakeNotification(out JsonObject? body) => _notifications.Reader.TryRead(out body);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
