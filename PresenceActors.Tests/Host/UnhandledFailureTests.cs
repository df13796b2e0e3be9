using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using PresenceActors.Tests.Support;
using Xunit;

namespace PresenceActors.Tests.Host;

/// <summary>
/// A failure nobody handled: logged with its stack trace and an incident id, answered as a problem that names only the
/// incident, never the exception or a stack trace (docs/reliability.md, "Security").
/// </summary>
public class UnhandledFailureTests
{
    private const string Secret = "a-value-the-failure-carries-7f21";

    /// <summary>A request to a path no endpoint serves meets a failure after the node's own pipeline, as a bug would.</summary>
    private sealed class FailingFallback : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            next(app);
            app.Run(context => context.Request.Path.StartsWithSegments("/test-failure")
                ? throw new InvalidOperationException($"a bug, with {Secret} in its message")
                : Task.CompletedTask);
        };
    }

    [Fact]
    public async Task An_unhandled_failure_is_logged_with_an_incident_id_and_answered_with_only_that_id()
    {
        var logs = new CapturingLoggerProvider();
        await using var loop = await Loop.StartAsync(captureLogs: logs, configure: b => b.Services.AddSingleton<IStartupFilter>(new FailingFallback()));
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{loop.Ports.Admin}/") };

        using var response = await http.GetAsync("test-failure");
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        var body = await response.Content.ReadAsStringAsync();
        var incident = JsonNode.Parse(body)!["incident"]!.GetValue<string>();
        Assert.Matches("^[0-9a-f]{12}$", incident);
        foreach (var leak in new[] { Secret, "InvalidOperationException", "   at " })
            Assert.DoesNotContain(leak, body);

        // The log has the whole story under the same id, for the operator.
        var logged = Assert.Single(logs.Lines, l => l.Contains($"request-failed incident={incident}", StringComparison.Ordinal));
        Assert.Contains("InvalidOperationException", logged);
        Assert.Contains("/test-failure", logged);
    }
}
