using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using PresenceActors.Graph;
using PresenceActors.Subscriptions;

namespace PresenceActors.Host.Configuration;

/// <summary>
/// What a running node reads again of its configuration (an options type, bound from the configuration and re-bound by
/// <c>IOptionsMonitor</c> when the properties file changes): the technical users, the applications beyond the seed's,
/// and the problems found reading them, each naming its key or line.
/// </summary>
public sealed class WatchedConfiguration
{
    public List<TechnicalAccountCredentials> Accounts { get; } = [];
    public List<GraphApplication> Applications { get; } = [];
    public List<string> Problems { get; } = [];

    /// <summary>Reads the accounts and applications of <paramref name="configuration"/> as it is now.</summary>
    public static void Bind(WatchedConfiguration watched, IConfiguration configuration)
    {
        var problems = configuration.PropertiesProblems().ToList();
        watched.Accounts.AddRange(PresenceConfiguration.TechnicalAccounts(configuration, problems));
        watched.Applications.AddRange(PresenceConfiguration.MoreApplications(configuration, PresenceConfiguration.Get(configuration, "azure.activedirectory.clientId"), problems));
        watched.Problems.AddRange(problems);
    }
}

public static class TechnicalAccountsWatcherSetup
{
    /// <summary>
    /// The watcher of a node started from a configuration file: <see cref="WatchedConfiguration"/> bound from
    /// <paramref name="configuration"/> (built with <c>watch: true</c>), re-bound on each change of the file.
    /// </summary>
    public static IServiceCollection AddTechnicalAccountsWatcher(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<WatchedConfiguration>().Configure(watched => WatchedConfiguration.Bind(watched, configuration));
        services.AddSingleton<IOptionsChangeTokenSource<WatchedConfiguration>>(new ConfigurationChangeTokenSource<WatchedConfiguration>(configuration));
        return services.AddSingleton<TechnicalAccountsWatcher>();
    }
}

/// <summary>
/// Adds technical accounts and applications without a restart: when the configuration file changes, new or changed
/// technical users are registered with the Graph gateway, new applications are added to it (users spread onto them,
/// docs/graph-budget.md, "Several applications"), and the pool is handed the new places, which it fills.
/// </summary>
public sealed class TechnicalAccountsWatcher(
    IOptionsMonitor<WatchedConfiguration> watched,
    ISubscriptionGraph graph,
    IRequiredActor<SubscriptionPoolKey> pool,
    ILogger<TechnicalAccountsWatcher> log)
{
    private readonly Dictionary<string, string> _known = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Reads the accounts and applications again; returns the usernames and client ids that were new. A file with problems (an edit half done, a line
    /// without a key) changes nothing: the accounts in use stay, and the problems are logged naming their keys.
    /// </summary>
    public IReadOnlyList<string> Refresh(WatchedConfiguration current)
    {
        // A change of the file can be reported more than once, from the monitor's own thread each time.
        lock (_known)
            return Apply(current.Accounts, current.Applications, current.Problems);
    }

    private List<string> Apply(List<TechnicalAccountCredentials> accounts, List<GraphApplication> applications, List<string> problems)
    {
        if (problems.Count > 0)
        {
            log.LogWarning("technical-accounts-reload-refused: the configuration file has {Count} problem(s); the technical accounts in use stay as they are: {Problems}",
                problems.Count, string.Join(" | ", problems));
            return [];
        }

        var added = new List<string>();
        foreach (var application in applications)
        {
            // Its places (one per technical user) go to the pool; users whose spread now names it set their next session
            // with it, while sessions already held stay with the application that set them.
            var places = graph.AddApplication(application);
            if (places.Count == 0)
                continue;
            added.Add(application.ClientId);
            log.LogInformation("application-added application={Application} from the configuration, without a restart: {Places} subscription place(s)",
                application.ClientId, places.Count);
            if (pool.ActorRef.IsNobody())
                continue;
            foreach (var place in places)
                pool.ActorRef.Tell(new SubscriptionPoolCommands.AddAccount(place), ActorRefs.NoSender);
        }

        foreach (var account in accounts)
        {
            var fingerprint = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(account.Password)));
            if (_known.TryGetValue(account.Username, out var known) && known == fingerprint)
                continue;
            var isNew = !_known.ContainsKey(account.Username);
            _known[account.Username] = fingerprint;
            graph.RegisterAccount(account);
            if (!isNew)
            {
                log.LogInformation("technical-account-updated account={Account}: new password registered", account.Username);
                continue;
            }

            added.Add(account.Username);
            if (!graph.HasCredentials(account.Username) || pool.ActorRef.IsNobody())
                continue;
            pool.ActorRef.Tell(new SubscriptionPoolCommands.AddAccount(account.Username), ActorRefs.NoSender);
            log.LogInformation("technical-account-added account={Account} from the configuration, without a restart", account.Username);
        }

        return added;
    }

    /// <summary>Applies the configuration as it is now, then each change the monitor reports (the file source waits for a write to settle).</summary>
    public IDisposable? Watch()
    {
        Refresh(watched.CurrentValue);
        return watched.OnChange(current =>
        {
            try
            {
                Refresh(current);
            }
            catch (Exception e)
            {
                // Whatever the reload met, the node goes on with the accounts it has. The type and message only (a stack
                // trace here says nothing useful).
                log.LogWarning("technical-accounts-reload-failed: {Type}: {Message}; the technical accounts in use stay as they are", e.GetType().Name, e.Message);
            }
        });
    }
}
