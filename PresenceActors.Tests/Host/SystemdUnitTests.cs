using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Extensions.Configuration;
using PresenceActors.Host.Configuration;
using Xunit;

namespace PresenceActors.Tests.Host;

/// <summary>
/// No systemd runs here, so the unit file is read as text and checked against the service's commands, keys and ports,
/// and install.sh installs into a temporary folder where the unit would look for the files.
/// </summary>
public class SystemdUnitTests : IDisposable
{
    private const string Service = "Service";
    private readonly string _temp = Directory.CreateTempSubdirectory("presence-systemd").FullName;

    private static string Root([CallerFilePath] string here = "") => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", ".."));

    private static string UnitPath() => Path.Combine(Root(), "deploy", "systemd", "presenceactors.service");

    private static UnitFile Unit() => UnitFile.Parse(File.ReadAllText(UnitPath()));

    [Fact]
    public void Unit_starts_the_published_host_with_its_run_command_as_a_notify_service_of_its_own_user()
    {
        var unit = Unit();
        Assert.Equal("notify", unit.Value(Service, "Type"));
        Assert.Equal("presence", unit.Value(Service, "User"));
        Assert.Equal("presence", unit.Value(Service, "Group"));
        // A node the cluster let go exits with code 3 for its supervisor (docs/decisions.md, LoneSeedNodeTests); a stop on
        // request exits 0 and configuration problems 2, which a restart cannot mend.
        Assert.Equal("on-failure", unit.Value(Service, "Restart"));
        Assert.Equal("2", unit.Value(Service, "RestartPreventExitStatus"));

        var command = Words(unit.Value(Service, "ExecStart"));
        Assert.Equal("/opt/presenceactors/PresenceActors.Host", command[0]);
        Assert.Equal(["run", "--config"], command.GetRange(1, 2));
        Assert.Equal(4, command.Count);
        Assert.StartsWith($"/etc/{unit.Value(Service, "ConfigurationDirectory")}/", command[3]);
        Assert.Equal(Path.GetDirectoryName(command[0]), unit.Value(Service, "WorkingDirectory"));

        var program = File.ReadAllText(Path.Combine(Root(), "PresenceActors.Host", "Program.cs"));
        Assert.Contains("new Command(\"run\"", program);
        Assert.Matches(@"new Option<[^>]+>\(""--config""", program);
    }

    [Fact]
    public void Unit_environment_names_known_keys_and_keeps_the_data_in_the_writable_state_directory()
    {
        var unit = Unit();
        var environment = UnitEnvironment(unit);
        var known = PresenceConfiguration.Keys.Select(k => k.Key).ToHashSet();
        Assert.All(environment.Keys.Where(name => name.StartsWith("presence__", StringComparison.Ordinal)),
            name => Assert.Contains(name.Replace("__", "."), known));

        var data = environment["presence__dataFolder"];
        var state = $"/var/lib/{unit.Value(Service, "StateDirectory")}";
        Assert.True(Within(data, state), $"presence.dataFolder = {data} is outside the StateDirectory {state}");
        var writable = unit.Values(Service, "ReadWritePaths").SelectMany(Words).Select(p => p.TrimStart('-')).ToList();
        Assert.Contains(writable, path => Within(data, path));
        Assert.All(writable, path => Assert.True(Within(path, state), $"ReadWritePaths opens {path}, outside the state directory {state}"));

        Assert.Equal("strict", unit.Value(Service, "ProtectSystem"));
        Assert.Equal("yes", unit.Value(Service, "NoNewPrivileges"));
        Assert.Equal("yes", unit.Value(Service, "ProtectHome"));
        Assert.Equal("yes", unit.Value(Service, "PrivateTmp"));
        // The .NET JIT writes code and then runs it.
        Assert.DoesNotContain("yes", unit.Values(Service, "MemoryDenyWriteExecute"));
    }

    [Fact]
    public void Every_port_the_default_configuration_opens_needs_no_capability()
    {
        var unit = Unit();
        Assert.Equal(string.Empty, unit.Value(Service, "CapabilityBoundingSet"));
        Assert.Empty(unit.Values(Service, "AmbientCapabilities"));

        // As Program.cs reads it: the properties file, then environment variables (a__b: .NET's a:b).
        var environment = UnitEnvironment(unit).ToDictionary(e => e.Key.Replace("__", ":"), e => e.Value);
        environment["presence:dataFolder"] = _temp;
        var options = Support.DeployedConfiguration.Load(environment, out var problems);

        Assert.Empty(problems);
        // The unit's data folder took effect (the properties file does not set one of its own).
        Assert.Equal(Path.Combine(_temp, "presence.db"), options!.Node.Persistence.ConnectionString);
        int[] ports = [options.Webhook.Port, options.InternalApi.Port, options.Admin.Port, options.Node.Cluster.Port];
        Assert.All(ports, port => Assert.InRange(port, 1024, 65535));
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Install_script_puts_the_files_where_the_unit_expects_them_keeps_the_previous_version_and_rolls_back()
    {
        var published = Path.Combine(_temp, "published");
        Directory.CreateDirectory(published);
        var host = Path.Combine(published, "PresenceActors.Host");
        await File.WriteAllTextAsync(host, "#!/bin/sh\necho v1\n");
        var roots = new Dictionary<string, string>
        {
            ["PREFIX_OPT"] = Path.Combine(_temp, "opt"),
            ["PREFIX_ETC"] = Path.Combine(_temp, "etc"),
            ["PREFIX_STATE"] = Path.Combine(_temp, "var", "lib"),
            ["SYSTEMD_DIR"] = Path.Combine(_temp, "units"),
            ["PRESENCE_INSTALL_SKIP_USER"] = "1",
        };
        // Where a path the unit names lands under the temporary roots.
        string Staged(string path) =>
            path.StartsWith("/opt/", StringComparison.Ordinal) ? Path.Combine(roots["PREFIX_OPT"], path["/opt/".Length..])
            : path.StartsWith("/etc/", StringComparison.Ordinal) ? Path.Combine(roots["PREFIX_ETC"], path["/etc/".Length..])
            : path.StartsWith("/var/lib/", StringComparison.Ordinal) ? Path.Combine(roots["PREFIX_STATE"], path["/var/lib/".Length..])
            : throw new InvalidOperationException($"the unit names {path}, which install.sh does not install");

        await InstallAsync(roots, "--from", published, "--no-systemctl");

        Assert.Equal(await File.ReadAllTextAsync(UnitPath()), await File.ReadAllTextAsync(Path.Combine(roots["SYSTEMD_DIR"], "presenceactors.service")));
        var unit = Unit();
        var command = Words(unit.Value(Service, "ExecStart"));
        var executable = Staged(command[0]);
        Assert.Equal("#!/bin/sh\necho v1\n", await File.ReadAllTextAsync(executable));
        Assert.True(File.GetUnixFileMode(executable).HasFlag(UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute),
            $"{executable} is not executable: {File.GetUnixFileMode(executable)}");
        Assert.True(Directory.Exists(Staged(unit.Value(Service, "WorkingDirectory"))));
        var properties = Staged(command[3]);
        Assert.Equal(await File.ReadAllTextAsync(Path.Combine(Root(), "deploy", "application.properties")), await File.ReadAllTextAsync(properties));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, File.GetUnixFileMode(properties));
        Assert.True(Directory.Exists(Staged(UnitEnvironment(unit)["presence__dataFolder"])));

        // An upgrade keeps the operator's configuration and the version it replaces.
        await File.AppendAllTextAsync(properties, "presence.admin.token = kept-by-the-upgrade\n");
        await File.WriteAllTextAsync(host, "#!/bin/sh\necho v2\n");
        await InstallAsync(roots, "--from", published, "--no-systemctl");
        var previous = Path.Combine(roots["PREFIX_OPT"], "presenceactors.previous", "PresenceActors.Host");
        Assert.Equal("#!/bin/sh\necho v2\n", await File.ReadAllTextAsync(executable));
        Assert.Equal("#!/bin/sh\necho v1\n", await File.ReadAllTextAsync(previous));
        Assert.Contains("kept-by-the-upgrade", await File.ReadAllTextAsync(properties));

        await InstallAsync(roots, "--rollback", "--no-systemctl");
        Assert.Equal("#!/bin/sh\necho v1\n", await File.ReadAllTextAsync(executable));
        Assert.Equal("#!/bin/sh\necho v2\n", await File.ReadAllTextAsync(previous));
    }

    private static async Task InstallAsync(IReadOnlyDictionary<string, string> environment, params string[] arguments)
    {
        var start = new ProcessStartInfo("bash")
        {
            WorkingDirectory = Root(),
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add(Path.Combine(Root(), "deploy", "systemd", "install.sh"));
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        foreach (var (name, value) in environment)
            start.Environment[name] = value;

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"install.sh {string.Join(' ', arguments)} did not finish within 60 s: {await output}{await errors}");
        }

        Assert.True(process.ExitCode == 0, $"install.sh {string.Join(' ', arguments)} exited {process.ExitCode}: {await output}{await errors}");
    }

    /// <summary>The unit's Environment= assignments, name to value.</summary>
    private static Dictionary<string, string> UnitEnvironment(UnitFile unit) =>
        unit.Values(Service, "Environment").SelectMany(Words).Select(a => a.Split('=', 2)).ToDictionary(a => a[0], a => a.Length > 1 ? a[1] : "");

    private static bool Within(string path, string folder) =>
        path == folder || path.StartsWith(folder.TrimEnd('/') + "/", StringComparison.Ordinal);

    /// <summary>systemd's splitting of ExecStart= and Environment=: words separated by blanks, quotes group them.</summary>
    private static List<string> Words(string text)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        char? quote = null;
        var inWord = false;
        foreach (var c in text)
        {
            if (quote is { } open)
            {
                if (c == open)
                    quote = null;
                else
                    word.Append(c);
            }
            else if (c is '"' or '\'')
            {
                quote = c;
                inWord = true;
            }
            else if (char.IsWhiteSpace(c))
            {
                if (inWord)
                    words.Add(word.ToString());
                word.Clear();
                inWord = false;
            }
            else
            {
                word.Append(c);
                inWord = true;
            }
        }

        if (inWord)
            words.Add(word.ToString());
        return words;
    }

    /// <summary>A unit file as systemd reads it: [Section]s of Key=Value lines, # and ; comments, a key may repeat.</summary>
    private sealed class UnitFile
    {
        private readonly Dictionary<(string Section, string Key), List<string>> _values = [];

        public static UnitFile Parse(string text)
        {
            var unit = new UnitFile();
            var section = "";
            var lines = text.Replace("\r\n", "\n").Replace("\\\n", " ").Split('\n');
            foreach (var raw in lines)
            {
                var line = raw.Trim();
                if (line.Length == 0 || line[0] is '#' or ';')
                    continue;
                if (line.StartsWith('[') && line.EndsWith(']'))
                {
                    section = line[1..^1];
                    continue;
                }

                var split = line.IndexOf('=');
                Assert.True(split > 0, $"'{line}' in [{section}] is not Key=Value");
                var key = (section, line[..split].Trim());
                if (!unit._values.TryGetValue(key, out var values))
                    unit._values[key] = values = [];
                values.Add(line[(split + 1)..].Trim());
            }

            return unit;
        }

        public IReadOnlyList<string> Values(string section, string key) => _values.GetValueOrDefault((section, key)) ?? [];

        public string Value(string section, string key)
        {
            var values = Values(section, key);
            Assert.True(values.Count == 1, $"[{section}] {key}= appears {values.Count} times, expected once");
            return values[0];
        }
    }

    public void Dispose()
    {
        if (Directory.Exists(_temp))
            Directory.Delete(_temp, recursive: true);
    }
}
