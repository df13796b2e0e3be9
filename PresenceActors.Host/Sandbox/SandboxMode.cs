using System.Net;
using System.Security.Cryptography;
using PresenceActors.Graph;
using PresenceActors.Simulators.Graph;
using PresenceActors.Simulators.Uc;
using PresenceActors.Webhooks;

namespace PresenceActors.Host.Sandbox;

/// <summary>
/// The whole loop in one process on 127.0.0.1 (README.md, "Run it"; docs/operator-guide.md): the Graph + Entra simulator (9443), the UC simulator
/// (control 9444, front ends 9445/9446), the service (webhook 8443, internal API 10443, admin 9110), demo users, SQLite.
/// </summary>
public static class SandboxMode
{
    /// <summary>Where everything listens; tests use free ports so that they never collide with a running sandbox.</summary>
    public sealed record Ports(int Graph = 9443, int UcControl = 9444, int FrontEnd1 = 9445, int FrontEnd2 = 9446,
        int Webhook = 8443, int InternalApi = 10443, int Admin = 9110, int Remoting = 4053);

    /// <summary>What a running sandbox offers, handed to <see cref="Settings.OnReady"/>.</summary>
    public sealed record Running(GraphSimulator Graph, UcSimulator Uc, DemoTenant Tenant, IReadOnlyList<(string UcUserId, string Upn)> Users);

    public sealed record Settings(int Users, string DataFolder, Ports? Listen = null, Action<Running>? OnReady = null, bool Demo = false, TextWriter? Output = null,
        bool Verbose = false);

    /// <summary>The default ports moved to <paramref name="first"/> and the seven after it (another sandbox holds the defaults).</summary>
    public static Ports PortsFrom(int first) => new(first, first + 1, first + 2, first + 3, first + 4, first + 5, first + 6, first + 7);

    public static async Task<int> RunAsync(Settings settings, CancellationToken stopping)
    {
        var ports = settings.Listen ?? new Ports();
        Directory.CreateDirectory(settings.DataFolder);
        // The simulators start empty every time, so the service does too.
        foreach (var stale in Directory.GetFiles(settings.DataFolder, "presence.db*"))
            File.Delete(stale);
        await using var graph = await GraphSimulator.StartAsync(new GraphSimulatorOptions { Port = ports.Graph });
        var tenant = graph.SeedDemo(settings.Users, technicalUsers: 2);
        var apiKey = Convert.ToHexString(RandomNumberGenerator.GetBytes(24));
        await using var uc = await UcSimulator.StartAsync(new UcSimulatorOptions { ControlPort = ports.UcControl, FrontEndPorts = [ports.FrontEnd1, ports.FrontEnd2], ServiceApiKey = apiKey });

        var options = SimulatedService.Options(graph, tenant.ClientId, tenant.ClientSecret,
            tenant.TechnicalUsers.Select(t => new TechnicalAccountCredentials(t.Username, t.Password)).ToList(), uc, apiKey,
            Path.Combine(settings.DataFolder, "presence.db"), EncryptionCertificates.LoadOrCreate(Path.Combine(settings.DataFolder, "encryption.pfx")),
            new SimulatedService.Listen(ports.Webhook, ports.InternalApi, ports.Admin, ports.Remoting));

        // Written from the actor system's threads (the sync decisions) and from here: one line at a time.
        var output = TextWriter.Synchronized(settings.Output ?? Console.Out);
        await using var service = PresenceService.Build(options, configure: builder =>
        {
            builder.Logging.ClearProviders();
            builder.Logging.AddSimpleConsole(c => c.SingleLine = true);
            // Akka's start-up story (remoting, cluster membership, singletons) only with --verbose; warnings always.
            // A console-specific rule, so that an appsettings.json beside the program (Default: Information) does not win.
            builder.Logging.AddFilter<Microsoft.Extensions.Logging.Console.ConsoleLoggerProvider>(null, settings.Verbose ? LogLevel.Information : LogLevel.Warning);
            builder.Services.AddSingleton(new SandboxControls(graph, uc)); // the status page's buttons
        });
        service.MapSandboxControls();
        await service.StartAsync(stopping);
        // The sync decisions, one line each, whatever the log level.
        var system = service.Services.GetRequiredService<Akka.Actor.ActorSystem>();
        system.ActorOf(Akka.Actor.Props.Create(() => new SyncDecisionPrinter(output)), "sandbox-sync-decisions");
        uc.ServiceApi = new Uri($"https://127.0.0.1:{ports.InternalApi}/");

        var users = new List<(string UcUserId, string Upn)>();
        foreach (var upn in tenant.Users)
        {
            // Ctrl+C while the demo users register: stop quietly, as later.
            if (stopping.IsCancellationRequested || service.Lifetime.ApplicationStopping.IsCancellationRequested)
            {
                await service.StopAsync(CancellationToken.None);
                return 0;
            }

            var ucUserId = $"uc-{upn.Split('@')[0]}";
            uc.AddUser(ucUserId, "Available");
            var (status, _) = await uc.RegisterAsync(ucUserId, upn);
            if (status != HttpStatusCode.OK)
                throw new InvalidOperationException($"Registering demo user {upn} answered {status}.");
            await uc.ReportAsync(uc.User(ucUserId)!);
            users.Add((ucUserId, upn));
        }

        var first = users[0];
        output.WriteLine($$"""

            PresenceActors sandbox is running (everything on 127.0.0.1; Ctrl+C stops it).
              service    webhook https://127.0.0.1:{{ports.Webhook}}/graph/listen · internal API https://127.0.0.1:{{ports.InternalApi}}/api/v1 · status page http://127.0.0.1:{{ports.Admin}}/status
              Graph sim  {{graph.BaseUrl}} (control {{graph.BaseUrl}}_sim/)
              UC sim     control {{uc.ControlUrl}} · front ends {{string.Join(", ", uc.FrontEndUrls)}}
              data       {{Path.GetFullPath(settings.DataFolder)}}
              users      {{users.Count}} demo users on {{tenant.TechnicalUsers.Count}} technical accounts, e.g. {{first.Upn}} = UC user {{first.UcUserId}}

            Try (self-signed certificates, hence -k):
              Teams call starts:   curl -k -X POST {{graph.BaseUrl}}_sim/users/{{first.Upn}}/teams-call -H 'content-type: application/json' -d '{"active":true}'
              Teams call ends:     curl -k -X POST {{graph.BaseUrl}}_sim/users/{{first.Upn}}/teams-call -H 'content-type: application/json' -d '{"active":false}'
              UC phone call:       curl -k -X POST {{uc.ControlUrl}}users/{{first.UcUserId}}/call -H 'content-type: application/json' -d '{"active":true}'
              Teams presence:      curl -k {{graph.BaseUrl}}_sim/users | head -c 600
              UC users:            curl -k {{uc.ControlUrl}}users
              Health:              curl http://127.0.0.1:{{ports.Admin}}/healthz/ready
              Status page:         http://127.0.0.1:{{ports.Admin}}/status  (buttons start and end calls for any demo user)

            The command line (another terminal):
              dotnet run --project PresenceActors.Host -- ctl presence pool --url http://127.0.0.1:{{ports.Admin}}
              dotnet run --project PresenceActors.Host -- ctl presence user {{first.UcUserId}} --url http://127.0.0.1:{{ports.Admin}}
              dotnet run --project PresenceActors.Host -- ctl cluster show --url http://127.0.0.1:{{ports.Admin}}
            Each sync decision is logged below as 'sync-decision user=… teams=… ucStatus=… rule=…'.

            """);

        var running = new Running(graph, uc, tenant, users);
        settings.OnReady?.Invoke(running);
        if (settings.Demo)
        {
            foreach (var (_, upn) in users)
                await WaitUntilWatchedAsync(graph, upn, stopping);
            var exit = await SandboxDemo.RunAsync(running, tenant.ClientId, output, stopping);
            await service.StopAsync(CancellationToken.None);
            return exit;
        }

        // Until Ctrl+C or SIGTERM (the host's console lifetime hears them) or the caller's token: then a graceful stop.
        await service.WaitForShutdownAsync(stopping);
        return 0;
    }

    /// <summary>Prints each sync decision of the node as one console line.</summary>
    private sealed class SyncDecisionPrinter : Akka.Actor.ReceiveActor
    {
        public SyncDecisionPrinter(TextWriter output) =>
            Receive<PresenceActors.Users.SyncDecision>(d => output.WriteLine(
                $"{d.At:HH:mm:ss} sync-decision user={d.UcUserId ?? d.UserId} teams={d.TeamsAvailability ?? "-"}/{d.TeamsActivity ?? "-"} ucStatus={d.UcStatus ?? "-"} rule={d.Rule}: {d.Detail}"));

        protected override void PreStart() => Context.System.EventStream.Subscribe(Self, typeof(PresenceActors.Users.SyncDecision));
    }

    private static async Task WaitUntilWatchedAsync(GraphSimulator graph, string upn, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(50));
        var id = graph.Tenant.FindUser(upn)!.Id;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (graph.Tenant.SubscriptionsWatching(id).Count == 0 && DateTime.UtcNow < deadline && await timer.WaitForNextTickAsync(cancellationToken))
        {
        }
    }
}
