using System.CommandLine;
using PresenceActors.Host;
using PresenceActors.Host.Configuration;
using PresenceActors.Host.Sandbox;

var configOption = new Option<FileInfo?>("--config") { Description = "the UC Graph Connector's application.properties (as the seed has it)" };

var users = new Option<int>("--users") { Description = "demo users", DefaultValueFactory = _ => 20 };
users.Validators.Add(r =>
{
    if (r.GetValueOrDefault<int>() is < 1 or > 100_000)
        r.AddError("--users must be a whole number from 1 to 100000.");
});
var data = new Option<string>("--data") { Description = "folder of the sandbox's SQLite file and keys", DefaultValueFactory = _ => Path.Combine("data", "sandbox") };
var demo = new Option<bool>("--demo") { Description = "run the seed table's rows in both directions, print the results, exit 0 only if all are right" };
var verbose = new Option<bool>("--verbose") { Description = "also Akka's informational logs (remoting, cluster membership, singletons)" };
var portsFrom = new Option<int?>("--ports-from") { Description = "listen on this port and the seven after it instead of 9443-9446, 8443, 10443, 9110 and 4053" };
portsFrom.Validators.Add(r =>
{
    if (r.GetValueOrDefault<int?>() is { } first && first is < 1024 or > 65_528)
        r.AddError("--ports-from must be a port from 1024 to 65528 (eight ports from it are used).");
});
var sandbox = new Command("sandbox", "the service, both simulators and demo users in one process on 127.0.0.1") { users, data, demo, verbose, portsFrom };
sandbox.SetAction((parse, stopping) => SandboxMode.RunAsync(new SandboxMode.Settings(parse.GetValue(users), parse.GetValue(data)!,
    Listen: parse.GetValue(portsFrom) is { } first ? SandboxMode.PortsFrom(first) : null, Demo: parse.GetValue(demo), Verbose: parse.GetValue(verbose)), stopping));

var run = new Command("run", "run one node of the service with the given configuration") { configOption };
run.SetAction(async (parse, stopping) =>
{
    // Read with watch: technical users and applications added to the file later join without a restart.
    var file = parse.GetValue(configOption);
    var configuration = PresenceConfiguration.Build(file, out var fileProblems, watch: true);
    var options = Report(configuration, fileProblems);
    if (options is null)
        return 2;
    await using var app = PresenceService.Build(options, configure: builder => builder.Services.AddTechnicalAccountsWatcher(configuration).AddBoundKeys(configuration));
    await app.StartAsync(stopping);
    using (app.Services.GetRequiredService<TechnicalAccountsWatcher>().Watch())
        await app.WaitForShutdownAsync(stopping);
    // Stopped on request (SIGTERM, Ctrl+C): 0. Let go by the cluster (not joined in time, downed): 3, for the supervisor
    // (systemd's Restart=on-failure, compose's restart policy) to start the node again.
    var reason = Akka.Actor.CoordinatedShutdown.Get(app.Services.GetRequiredService<Akka.Actor.ActorSystem>()).ShutdownReason;
    return reason is Akka.Actor.CoordinatedShutdown.ClusterJoinUnsuccessfulReason or Akka.Actor.CoordinatedShutdown.ClusterDowningReason ? 3 : 0;
});

var show = new Command("show", "print the effective configuration, secrets replaced by ********") { configOption };
show.SetAction(parse =>
{
    foreach (var (key, value) in PresenceConfiguration.Show(PresenceConfiguration.Build(parse.GetValue(configOption), out _)))
        Console.WriteLine($"{key} = {value}");
    return 0;
});
var check = new Command("check", "check the configuration; one line per problem, naming the key") { configOption };
check.SetAction(parse =>
{
    if (LoadOrReport(parse.GetValue(configOption)) is not { } checkedOptions)
        return 2;
    foreach (var warning in checkedOptions.Warnings)
        Console.WriteLine($"warning: {warning}");
    Console.WriteLine("configuration is valid");
    return 0;
});
var config = new Command("config", "inspect the configuration") { show, check };

var doctor = new Command("doctor", "check sign-in, permissions, the public webhook, the UC front ends and certificates") { configOption };
doctor.SetAction(async (parse, stopping) =>
{
    var options = LoadOrReport(parse.GetValue(configOption));
    return options is null ? 2 : await new PresenceActors.Host.Doctor.Doctor(options, Console.Out).RunAsync(stopping);
});

var root = new RootCommand("PresenceActors: keeps Microsoft Teams and OpenScape UC presence in step") { sandbox, run, config, doctor, PresenceActors.Host.Admin.Ctl.Build(Console.Out) };
// Ctrl+C and SIGTERM cancel the command's token; a graceful stop (leaving the cluster, handing singletons and shards
// over) takes a few seconds, and is given up to 25 s before the process is ended anyway: each shard handed over is one
// write of the coordinator's state to every node, one after another, and on a loaded machine a node holding a third of
// the shards took more than 10 s (the cluster test's rolling restart, exit 143). systemd waits 30 s
// (TimeoutStopSec), the compose file 30 s (stop_grace_period).
return await root.Parse(args.Length == 0 ? ["sandbox"] : args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(25) });

static PresenceServiceOptions? LoadOrReport(FileInfo? file)
{
    var configuration = PresenceConfiguration.Build(file, out var fileProblems);
    return Report(configuration, fileProblems);
}

static PresenceServiceOptions? Report(Microsoft.Extensions.Configuration.IConfiguration configuration, List<string> fileProblems)
{
    var options = PresenceConfiguration.Load(configuration, out var problems);
    problems.InsertRange(0, fileProblems);
    if (problems.Count == 0 && options is not null)
        return options;
    Console.Error.WriteLine($"The configuration has {problems.Count} problem(s):");
    foreach (var problem in problems)
        Console.Error.WriteLine($"  - {problem}");
    return null;
}
