using Akka.Actor;
using Akka.Hosting;
using PresenceActors.Graph;
using PresenceActors.Subscriptions;

namespace PresenceActors.Host.Configuration;

/// <summary>
/// Adds technical accounts without a restart: when the configuration file changes, new or changed technical users are
/// registered with the Graph gateway and new ones are handed to the pool, which spreads users onto them.
/// </summary>
public sealed class TechnicalAccountsWatcher(
    Func<(IReadOnlyList<TechnicalAccountCredentials> Accounts, IReadOnlyList<string> Problems)> readAccounts,
    ISubscriptionGraph graph,
    IRequiredActor<SubscriptionPoolKey> pool,
    ILogger<TechnicalAccountsWatcher> log)
{
    private readonly Dictionary<string, string> _known = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The technical users of the node's configuration file as it is now, and its problems (each naming its key or line).</summary>
    public static (IReadOnlyList<TechnicalAccountCredentials> Accounts, IReadOnlyList<string> Problems) Read(FileInfo file)
    {
        var configuration = PresenceConfiguration.Build(file, out var problems);
        var accounts = PresenceConfiguration.TechnicalAccounts(configuration, problems);
        return (accounts, problems);
    }

    /// <summary>
    /// Reads the accounts again; returns the usernames that were new. A file with problems (an edit half done, a line
    /// without a key) changes nothing: the accounts in use stay, and the problems are logged naming their keys.
    /// </summary>
    public IReadOnlyList<string> Refresh()
    {
        var (accounts, problems) = readAccounts();
        if (problems.Count > 0)
        {
            log.LogWarning("technical-accounts-reload-refused: the configuration file has {Count} problem(s); the technical accounts in use stay as they are: {Problems}",
                problems.Count, string.Join(" | ", problems));
            return [];
        }

        var added = new List<string>();
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
