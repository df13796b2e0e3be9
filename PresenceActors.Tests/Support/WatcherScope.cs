using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using PresenceActors.Graph;
using PresenceActors.Host.Configuration;
using PresenceActors.Subscriptions;
using Xunit;

namespace PresenceActors.Tests.Support;

internal sealed class WatcherScope(ServiceProvider services, IDisposable? watching, IDisposable? configuration) : IAsyncDisposable
{
    /// <summary>A watcher wired the way Program's `run` wires it, watching <paramref name="file"/>; disposing it stops the watching.</summary>
    public static WatcherScope Start(Loop loop, string file, ILoggerProvider? logs = null)
    {
        var configuration = PresenceConfiguration.Build(new FileInfo(file), out var problems, watch: true);
        Assert.Empty(problems);
        var services = new ServiceCollection()
            .AddLogging(b => { if (logs is not null) b.AddProvider(logs); })
            .AddSingleton(loop.Service.Services.GetRequiredService<ISubscriptionGraph>())
            .AddSingleton(loop.Service.Services.GetRequiredService<IRequiredActor<SubscriptionPoolKey>>())
            .AddTechnicalAccountsWatcher(configuration)
            .BuildServiceProvider();
        return new WatcherScope(services, services.GetRequiredService<TechnicalAccountsWatcher>().Watch(), configuration as IDisposable);
    }

    public async ValueTask DisposeAsync()
    {
        watching?.Dispose();
        configuration?.Dispose();
        await services.DisposeAsync();
    }
}
