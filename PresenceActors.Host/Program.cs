using PresenceActors.Host.Sandbox;

// dotnet run --project PresenceActors.Host -- sandbox [--users N] [--data DIR]
var verb = args.FirstOrDefault() ?? "sandbox";
if (verb != "sandbox")
{
    Console.Error.WriteLine($"Unknown command '{verb}'. Usage: PresenceActors.Host sandbox [--users N] [--data DIR]");
    return 2;
}

string? Option(string name)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}

var usersText = Option("--users") ?? "20";
if (!int.TryParse(usersText, out var users) || users is < 1 or > 100_000)
{
    Console.Error.WriteLine($"--users must be a whole number from 1 to 100000, not '{usersText}'.");
    return 2;
}

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};
using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, context =>
{
    context.Cancel = true;
    stop.Cancel();
});
return await SandboxMode.RunAsync(new SandboxMode.Settings(users, Option("--data") ?? Path.Combine("data", "sandbox")), stop.Token);
