using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using PresenceActors.Simulators.Common;
using PresenceActors.Simulators.Graph;
using PresenceActors.Simulators.Uc;

namespace PresenceActors.Benchmarks;

/// <summary>
/// One service node in its own process (<c>PresenceActors.Host run --config</c>, SQLite, every default an operator gets),
/// pointed at the simulators of this process on 127.0.0.1: what B4 and B5 measure, so that the RSS and CPU they report
/// are the service's own and not the simulators' or the load generator's.
/// </summary>
internal sealed class ServiceProcess : IAsyncDisposable
{
    private readonly string _folder;
    private readonly string _config;
    private readonly Dictionary<string, string> _environment;
    private readonly StringBuilder _output = new();
    private Process? _process;

    public ServiceProcess(GraphSimulator graph, UcSimulator uc, string clientId, string secret, IReadOnlyList<PresenceActors.Graph.TechnicalAccountCredentials> accounts,
        string apiKey, string folder)
    {
        _folder = folder;
        Webhook = Rig.FreePort();
        Api = Rig.FreePort();
        Admin = Rig.FreePort();
        var remoting = Rig.FreePort();
        File.WriteAllText(Path.Combine(folder, "graph.pem"), SimulatorCertificate.ToPem(graph.Certificate));
        File.WriteAllText(Path.Combine(folder, "uc.pem"), SimulatorCertificate.ToPem(uc.Certificate));
        var lines = new List<string>
        {
            $"azure.activedirectory.tenantId = {graph.Tenant.TenantId}",
            $"azure.activedirectory.clientId = {clientId}",
            $"azure.activedirectory.clientSecret = {secret}",
            $"webhook.receiver = https://127.0.0.1:{Webhook}/graph/listen",
            $"webhook.listener.http.url = {string.Join(",", uc.FrontEndUrls)}",
            $"presence.graph.authorityHost = {graph.AuthorityHost}",
            $"presence.graph.baseUrl = {graph.GraphUrl}",
            $"presence.graph.openIdConfiguration = {graph.OpenIdConfigurationUrl}",
            $"presence.tls.trustedCertificates = {Path.Combine(folder, "graph.pem")},{Path.Combine(folder, "uc.pem")}",
            $"presence.webhook.port = {Webhook}",
            $"presence.api.port = {Api}",
            $"presence.admin.port = {Admin}",
        };
        for (var i = 0; i < accounts.Count; i++)
        {
            lines.Add($"azure.activedirectory.technical.users[{i}].username = {accounts[i].Username}");
            lines.Add($"azure.activedirectory.technical.users[{i}].password = {accounts[i].Password}");
        }

        _config = Path.Combine(folder, "service.properties");
        File.WriteAllLines(_config, lines);
        _environment = new Dictionary<string, string>
        {
            ["presence__api__key"] = apiKey,
            ["presence__clientState__key"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
            ["presence__dataFolder"] = Path.Combine(folder, "data"),
            ["presence__cluster__port"] = remoting.ToString(CultureInfo.InvariantCulture),
            ["presence__cluster__hostname"] = "127.0.0.1",
            ["presence__cluster__publicHostname"] = "127.0.0.1",
            // Not configuration: the runtime's GC mode for a 2-core machine, as the cluster scenario runs nodes; quiet logs.
            ["DOTNET_gcServer"] = "0",
            ["Logging__LogLevel__Default"] = "Warning",
        };
    }

    public int Webhook { get; }

    public int Api { get; }

    public int Admin { get; }

    public int? ProcessId => _process is { HasExited: false } p ? p.Id : null;

    /// <summary>The SQLite file and its WAL.</summary>
    public long JournalBytes => new DirectoryInfo(Path.Combine(_folder, "data")).GetFiles("presence.db*").Sum(f => f.Length);

    /// <summary>The process's resident set (VmRSS), in bytes.</summary>
    public long Rss()
    {
        var status = File.ReadAllLines($"/proc/{_process!.Id}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(status.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
    }

    /// <summary>The process's CPU time so far (user + system).</summary>
    public TimeSpan Cpu()
    {
        _process!.Refresh();
        return _process.TotalProcessorTime;
    }

    public async Task StartAsync(TimeSpan limit)
    {
        var host = Path.Combine(AppContext.BaseDirectory, "PresenceActors.Host.dll");
        var start = new ProcessStartInfo("dotnet", [host, "run", "--config", _config])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = _folder,
        };
        foreach (var (name, value) in _environment)
            start.Environment[name] = value;
        _process = Process.Start(start)!;
        _process.OutputDataReceived += (_, e) => { lock (_output) _output.AppendLine(e.Data); };
        _process.ErrorDataReceived += (_, e) => { lock (_output) _output.AppendLine(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var watch = Stopwatch.StartNew();
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        while (watch.Elapsed < limit)
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"The service exited with {_process.ExitCode}: {Tail()}");
            try
            {
                if ((await http.GetAsync($"http://127.0.0.1:{Admin}/healthz/ready")).IsSuccessStatusCode)
                    return;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
            }

            await timer.WaitForNextTickAsync();
        }

        throw new TimeoutException($"The service was not ready after {limit}: {Tail()}");
    }

    /// <summary>SIGTERM, as systemd sends it, and the wait for the process to end.</summary>
    public async Task StopAsync()
    {
        if (_process is not { HasExited: false } process)
            return;
        using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)]))
            await kill!.WaitForExitAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
        }
    }

    private string Tail()
    {
        lock (_output)
        {
            var text = _output.ToString();
            return text.Length > 3000 ? text[^3000..] : text;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _process?.Dispose();
    }
}
