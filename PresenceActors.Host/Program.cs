using Akka.Hosting;
using PresenceActors;
using PresenceActors.Host;

var builder = WebApplication.CreateBuilder(args);
var node = builder.Configuration.GetSection("Presence").Get<PresenceNodeOptions>() ?? new PresenceNodeOptions();

builder.Services.AddPresencePorts();
builder.Services.AddPresenceNode(node, (akka, _) =>
    akka.AddHoconFile(Path.Combine(AppContext.BaseDirectory, "hocon", "cluster.hocon"), HoconAddMode.Append));
builder.Services.AddHealthChecks();

var app = builder.Build();
app.MapPresenceHealth();
app.Lifetime.ApplicationStarted.Register(() => app.Logger.LogInformation(
    "presence-started PresenceActors node {Host}:{Port} up; persistence {Provider} at {Store}; health on {Urls}/healthz",
    node.Cluster.Hostname, node.Cluster.Port, node.Persistence.Provider,
    node.Persistence.Provider == PresenceActors.Persistence.PersistenceProvider.Sqlite ? Path.GetFullPath(node.Persistence.ConnectionString) : "(PostgreSQL)",
    string.Join(", ", app.Urls)));
app.Run();
