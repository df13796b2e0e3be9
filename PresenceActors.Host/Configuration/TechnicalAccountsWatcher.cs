using Akka.Actor;
using Akka.Hosting;
using PresenceActors.Graph;
using PresenceActors.Subscriptions;

namespace PresenceActors.Host.Configuration;

/// <summary>What the watcher reads of the configuration file: the technical users, the applications beyond the seed's, and the file's problems.</summary>
public sealed record WatchedConfiguration(
    IReadOnlyList<TechnicalAccountCredentials> Accounts, IReadOnlyList<GraphApplication> Applications, IReadOnlyList<string> Problems)
{
    public static readonly WatchedConfiguration None = new([], [], []);
}

/// <summary>
/// Adds technical accounts and applications without a restart: when the configuration file changes, new or changed
/// technical users are registered with the Graph gateway, new applications are added to it (users spread onto them,
/// docs/graph-budget.md, "Several applications"), and the pool is handed the new places, which it fills.
/// </summary>
public sealed class TechnicalAccountsWatcher(
    Func<WatchedConfiguration> readAccounts,
    ISubscriptionGraph graph,
    IRequiredActor<SubscriptionPoolKey> pool,
    ILogger<TechnicalAccountsWatcher> log)
{
    private readonly Dictionary<string, string> _known = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The technical users of the node's configuration file as it is now, and its problems (each naming its key or line).</summary>
    public static WatchedConfiguration Read(FileInfo file)
    {
        var configuration = PresenceConfiguration.Build(file, out var problems);
        var accounts = PresenceConfiguration.TechnicalAccounts(configuration, problems);
        var applications = PresenceConfiguration.MoreApplications(configuration, configuration["azure.activedirectory.clientId"]?.Trim(), problems);
        return new WatchedConfiguration(accounts, applications, problems);
    }

    /// <summary>
    /// Reads the accounts and applications again; returns the usernames and client ids that were new. A file with problems (an edit half done, a line
    /// without a key) changes nothing: the accounts in use stay, and the problems are logged naming their keys.
    /// </summary>
    public IReadOnlyList<string> Refresh()
    {
        var (accounts, applications, problems) = readAccounts();
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

    /// <summary>Watches the file and refreshes after each change (debounced).</summary>
    public IDisposable Watch(string file)
    {
        Refresh();
        var watcher = new FileSystemWatcher(Path.GetDirectoryName(Path.GetFullPath(file))!, Path.GetFileName(file))
        {
            NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.FileName,
        };
        Timer? debounce = null;
        void Changed(object? _, FileSystemEventArgs __)
        {
            debounce?.Dispose();
            debounce = new Timer(_ =>
            {
                try
                {
                    Refresh();
                }
                catch (Exception e)
                {
                    // A timer callback's exception would end the process: whatever the reload met, the node goes on
                    // with the accounts it has. The type and message only (a stack trace here says nothing useful).
                    log.LogWarning("technical-accounts-reload-failed: {Type}: {Message}; the technical accounts in use stay as they are", e.GetType().Name, e.Message);
                }
            }, null, TimeSpan.FromMilliseconds(500), Timeout.InfiniteTimeSpan);
        }

        watcher.Changed += Changed;
        watcher.Created += Changed;
        watcher.Renamed += (s, e) => Changed(s, e);
        watcher.EnableRaisingEvents = true;
        return watcher;
    }
}
