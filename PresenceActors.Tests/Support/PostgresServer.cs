using System.Diagnostics;
using System.Runtime.InteropServices;

namespace PresenceActors.Tests.Support;

/// <summary>
/// The PostgreSQL server the tests use: a private one, made with <c>initdb</c> in a temporary folder from the machine's
/// installed PostgreSQL binaries and started on a free loopback port the first time a test asks, stopped when the test
/// run ends. It needs no running system cluster and no role created by hand (as root it runs as the <c>postgres</c> user
/// the Debian package creates, since PostgreSQL refuses to run as root). <c>PRESENCE_TEST_POSTGRES</c> names another
/// server instead, with <c>PRESENCE_TEST_POSTGRES_STOP</c> and <c>_START</c> as the commands that stop and start it.
/// </summary>
internal static class PostgresServer
{
    private const string Password = "presence-test";
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static Private? _private;

    private static string? External => Environment.GetEnvironmentVariable("PRESENCE_TEST_POSTGRES");

    /// <summary>A connection string to the server's <c>postgres</c> database as a superuser that may create databases.</summary>
    public static async Task<string> ConnectionStringAsync()
    {
        if (External is { } external)
            return external;
        await Gate.WaitAsync();
        try
        {
            _private ??= await Private.CreateAsync();
            return _private.ConnectionString;
        }
        finally
        {
            Gate.Release();
        }
    }

    /// <summary>Stops the server (fast shutdown: connections are cut), as a database outage does.</summary>
    public static async Task StopAsync()
    {
        if (External is not null)
        {
            await ShellAsync(Environment.GetEnvironmentVariable("PRESENCE_TEST_POSTGRES_STOP") ?? "pg_ctlcluster 15 main stop -m fast");
            return;
        }

        await ConnectionStringAsync();
        await _private!.StopAsync("fast");
    }

    /// <summary>Starts the stopped server again on the same port and folder.</summary>
    public static async Task StartAsync()
    {
        if (External is not null)
        {
            await ShellAsync(Environment.GetEnvironmentVariable("PRESENCE_TEST_POSTGRES_START") ?? "pg_ctlcluster 15 main start");
            return;
        }

        await ConnectionStringAsync();
        await _private!.StartAsync();
    }

    private sealed class Private
    {
        private readonly string _bin;
        private readonly string _folder;
        private readonly int _port;
        private readonly string? _runAs;

        private Private(string bin, string folder, int port, string? runAs)
        {
            _bin = bin;
            _folder = folder;
            _port = port;
            _runAs = runAs;
        }

        public string ConnectionString =>
            $"Host=127.0.0.1;Port={_port};Username=presence;Password={Password};Database=postgres;Timeout=5";

        private string Data => Path.Combine(_folder, "data");

        public static async Task<Private> CreateAsync()
        {
            var bin = FindBinaries() ?? throw new InvalidOperationException(
                "The PostgreSQL tests start a private PostgreSQL server from the installed binaries (initdb, pg_ctl), and none were found " +
                "under /usr/lib/postgresql/*/bin or on PATH: install Debian's package 'postgresql' (test.sh does), " +
                "or set PRESENCE_TEST_POSTGRES to a server's connection string.");
            RemoveLeftovers(bin);
            var runAs = geteuid() == 0 ? "postgres" : null;
            var folder = Path.Combine(Path.GetTempPath(), $"presence-pg-{Environment.ProcessId}-{Guid.NewGuid():N}"[..40]);
            Directory.CreateDirectory(folder);
            var server = new Private(bin, folder, TestPorts.Next(), runAs);
            await File.WriteAllTextAsync(Path.Combine(folder, "password"), Password);
            if (runAs is not null)
                await RunAsync("chown", ["-R", $"{runAs}:", folder], TimeSpan.FromSeconds(10));
            await server.PgAsync("initdb", ["-D", server.Data, "-U", "presence", "--pwfile", Path.Combine(folder, "password"),
                "--auth-host=scram-sha-256", "--auth-local=trust", "--encoding=UTF8", "--no-instructions"], TimeSpan.FromMinutes(2));
            // Three service processes at up to 20 connections each, plus the tests' own.
            await File.AppendAllTextAsync(Path.Combine(server.Data, "postgresql.conf"),
                $"\nport = {server._port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{folder}'\nmax_connections = 200\n");
            await server.StartAsync();
            AppDomain.CurrentDomain.ProcessExit += (_, _) =>
            {
                try
                {
                    server.StopAsync("immediate").GetAwaiter().GetResult();
                    Directory.Delete(folder, recursive: true);
                }
                catch (Exception e) when (e is InvalidOperationException or TimeoutException or IOException or UnauthorizedAccessException)
                {
                    // Already stopped (a test that stopped it failed before starting it again): the next run removes it.
                }
            };
            return server;
        }

        public Task StartAsync() =>
            PgAsync("pg_ctl", ["-D", Data, "-l", Path.Combine(_folder, "server.log"), "-w", "-t", "60", "start"], TimeSpan.FromSeconds(90));

        public Task StopAsync(string mode) => PgAsync("pg_ctl", ["-D", Data, "-m", mode, "-w", "-t", "60", "stop"], TimeSpan.FromSeconds(90));

        private Task PgAsync(string tool, string[] arguments, TimeSpan within) =>
            _runAs is null
                ? RunAsync(Path.Combine(_bin, tool), arguments, within)
                : RunAsync("runuser", ["-u", _runAs, "--", Path.Combine(_bin, tool), .. arguments], within);

        private static string? FindBinaries()
        {
            var installed = Directory.Exists("/usr/lib/postgresql")
                ? Directory.GetDirectories("/usr/lib/postgresql")
                    .Select(d => Path.Combine(d, "bin"))
                    .Where(d => File.Exists(Path.Combine(d, "initdb")) && File.Exists(Path.Combine(d, "pg_ctl")))
                    .OrderByDescending(d => int.TryParse(Path.GetFileName(Path.GetDirectoryName(d)), out var v) ? v : 0)
                    .FirstOrDefault()
                : null;
            return installed ?? (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':')
                .FirstOrDefault(d => d.Length > 0 && File.Exists(Path.Combine(d, "initdb")) && File.Exists(Path.Combine(d, "pg_ctl")));
        }

        /// <summary>Servers of earlier test runs that were killed before they could stop theirs.</summary>
        private static void RemoveLeftovers(string bin)
        {
            foreach (var folder in Directory.GetDirectories(Path.GetTempPath(), "presence-pg-*"))
            {
                var parts = Path.GetFileName(folder).Split('-');
                if (parts.Length < 3 || !int.TryParse(parts[2], out var owner) || owner == Environment.ProcessId || Alive(owner))
                    continue;
                try
                {
                    if (File.Exists(Path.Combine(folder, "data", "postmaster.pid")))
                    {
                        using var stop = Process.Start(new ProcessStartInfo(geteuid() == 0 ? "runuser" : Path.Combine(bin, "pg_ctl"),
                            geteuid() == 0 ? ["-u", "postgres", "--", Path.Combine(bin, "pg_ctl"), "-D", Path.Combine(folder, "data"), "-m", "immediate", "stop"]
                                : ["-D", Path.Combine(folder, "data"), "-m", "immediate", "stop"]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
                        stop.WaitForExit(30_000);
                    }

                    Directory.Delete(folder, recursive: true);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.ComponentModel.Win32Exception)
                {
                    // Another run's folder that cannot be removed is left alone.
                }
            }
        }

        private static bool Alive(int pid) => Directory.Exists($"/proc/{pid}");
    }

    private static async Task RunAsync(string file, string[] arguments, TimeSpan within)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(within);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"'{file} {string.Join(' ', arguments)}' did not finish within {within.TotalSeconds:0} s.");
        }

        if (process.ExitCode != 0)
            throw new InvalidOperationException($"'{file} {string.Join(' ', arguments)}' exited {process.ExitCode}: {await errors}{await output}");
    }

    private static async Task ShellAsync(string command) => await RunAsync("sh", ["-c", command], TimeSpan.FromMinutes(2));

    [DllImport("libc")]
    private static extern uint geteuid();
}
