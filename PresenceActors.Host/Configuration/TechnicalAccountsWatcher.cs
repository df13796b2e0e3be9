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
    Func<IReadOnlyList<TechnicalAccountCredentials>> readAccounts,
    ISubscriptionGraph graph,
    IRequiredActor<SubscriptionPoolKey> pool,
    ILogger<TechnicalAccountsWatcher> log)
{
    private readonly Dictionary<string, string> _known = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Reads the accounts again; returns the usernames that were new.</summary>
    public IReadOnlyList<string> Refresh()
    {
        var added = new List<string>();
        foreach (var account in readAccounts())
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
                catch (Exception e) when (e is IOException or FormatException)
                {
                    log.LogWarning("technical-accounts-reload-failed: {Message}", e.Message);
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
