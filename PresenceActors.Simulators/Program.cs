using PresenceActors.Simulators.Graph;

// Standalone: dotnet run --project PresenceActors.Simulators -- graph --port 9443 [--users 20] [--technical-users 2] [--no-rate-limits]
var verb = args.FirstOrDefault();
if (verb != "graph")
{
    Console.Error.WriteLine("usage: PresenceActors.Simulators graph [--port 9443] [--users 20] [--technical-users 2] [--no-rate-limits]");
    return 2;
}

int Option(string name, int fallback)
{
    var i = Array.IndexOf(args, name);
    if (i < 0)
        return fallback;
    if (i + 1 < args.Length && int.TryParse(args[i + 1], out var value) && value >= 0)
        return value;
    Console.Error.WriteLine($"{name} needs a non-negative whole number");
    Environment.Exit(2);
    return fallback;
}

await using var sim = await GraphSimulator.StartAsync(new GraphSimulatorOptions
{
    Port = Option("--port", 9443),
    RateLimits = !args.Contains("--no-rate-limits"),
});
var demo = sim.SeedDemo(Option("--users", 20), Option("--technical-users", 2));
var pem = Path.Combine(Path.GetTempPath(), "presence-graph-simulator.pem");
await File.WriteAllTextAsync(pem, sim.Certificate.ExportCertificatePem());

Console.WriteLine($"""
    Microsoft Graph + Entra ID simulator
      authority host (azure.activedirectory authority) : {sim.AuthorityHost}
      Graph base URL                                   : {sim.GraphUrl}
      OpenID metadata (validationTokens)               : {sim.OpenIdConfigurationUrl}
      control API                                      : {sim.BaseUrl}_sim/  (users, teams-call, preferred, faults, calls, reset)
      TLS certificate to trust                         : {pem} (thumbprint {sim.Certificate.Thumbprint})

    Demo tenant (application.properties):
      azure.activedirectory.tenantId     = {demo.TenantId}
      azure.activedirectory.clientId     = {demo.ClientId}
      azure.activedirectory.clientSecret = {demo.ClientSecret}
    """);
for (var i = 0; i < demo.TechnicalUsers.Count; i++)
{
    Console.WriteLine($"      azure.activedirectory.technical.users[{i}].username = {demo.TechnicalUsers[i].Username}");
    Console.WriteLine($"      azure.activedirectory.technical.users[{i}].password = {demo.TechnicalUsers[i].Password}");
}

Console.WriteLine($"    Users: {string.Join(", ", demo.Users.Take(5))}{(demo.Users.Count > 5 ? $" … ({demo.Users.Count})" : "")}");
Console.WriteLine("    Press Ctrl+C to stop.");
try
{
    await Task.Delay(Timeout.Infinite, sim.Stopping);
}
catch (OperationCanceledException)
{
}

return 0;
