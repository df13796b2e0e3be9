using System.Security.Cryptography;
using Microsoft.Extensions.Configuration;
using PresenceActors.Graph;
using PresenceActors.Webhooks;

namespace PresenceActors.Host.Configuration;

/// <summary>Where the configuration comes from, and the part a running node reads again (the technical accounts).</summary>
public static partial class PresenceConfiguration
{
    /// <summary>
    /// The configuration a node reads: the program's appsettings.json, then the properties file (the seed's format, a
    /// configuration source of its own: <see cref="PropertiesConfigurationSource"/>), then environment variables
    /// (presence__admin__token), later ones winning. With <paramref name="watch"/> the file is read again when it changes
    /// (a running node's technical users and applications, through <c>IOptionsMonitor</c>). Problems of the file (missing,
    /// a line that is not 'key = value') are returned, never its values.
    /// </summary>
    public static IConfiguration Build(FileInfo? file, out List<string> problems, bool watch = false)
    {
        problems = [];
        var builder = new ConfigurationBuilder().AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true);
        if (file is not null)
        {
            file.Refresh();
            if (!file.Exists)
                problems.Add($"--config: file '{file.FullName}' does not exist.");
            else
                builder.AddPropertiesFile(file.FullName, reloadOnChange: watch);
        }

        var configuration = builder.AddEnvironmentVariables().Build();
        problems.AddRange(configuration.PropertiesProblems());
        return configuration;
    }

    /// <summary>
    /// The technical users of the configuration (the seed's key and the numbered ones), each problem naming its key.
    /// Also what a running node reads again when the file changes: it only reads, and creates no file.
    /// </summary>
    public static List<TechnicalAccountCredentials> TechnicalAccounts(IConfiguration configuration, List<string> found)
    {
        var accounts = new List<TechnicalAccountCredentials>();
        var halfConfigured = false;
        void Account(string prefix)
        {
            var user = Get(configuration, $"{prefix}.username");
            var password = Get(configuration, $"{prefix}.password");
            if (user is null && password is null)
                return;
            halfConfigured |= user is null || password is null;
            if (user is null)
                found.Add($"{prefix}.username is missing while {prefix}.password is set.");
            else if (password is null)
                found.Add($"{prefix}.password is missing for technical user {user}.");
            else
                accounts.Add(new TechnicalAccountCredentials(user, password));
        }

        Account("azure.activedirectory.technical.user");
        // As many as are numbered from 0 without a gap: a million users take 1,539 (docs/scale.md).
        for (var n = 0; ; n++)
        {
            if (Get(configuration, $"azure.activedirectory.technical.users[{n}].username") is null
                && Get(configuration, $"azure.activedirectory.technical.users[{n}].password") is null
                && Get(configuration, $"azure.activedirectory.technical.users:{n}:username") is null)
                break;
            Account($"azure.activedirectory.technical.users[{n}]");
        }

        if (accounts.Count == 0 && !halfConfigured)
            found.Add("azure.activedirectory.technical.user.username/password is missing: at least one technical user must own a presence subscription (650 users each).");
        foreach (var duplicate in accounts.GroupBy(a => a.Username, StringComparer.OrdinalIgnoreCase).Where(g => g.Count() > 1))
            found.Add($"technical user {duplicate.Key} is configured more than once.");
        return accounts;
    }

    /// <summary>
    /// The applications beyond the seed's (azure.activedirectory.applications[N].clientId/.clientSecret, N = 0, 1, …):
    /// each adds a presence budget and a subscription per technical user (docs/graph-budget.md, "Several applications").
    /// Also read again when the file changes, so that one can be added without a restart.
    /// </summary>
    public static List<GraphApplication> MoreApplications(IConfiguration configuration, string? firstClientId, List<string> found)
    {
        var applications = new List<GraphApplication>();
        for (var n = 0; n < 100; n++)
        {
            var prefix = $"azure.activedirectory.applications[{n}]";
            var (clientId, secret) = (Get(configuration, $"{prefix}.clientId"), Get(configuration, $"{prefix}.clientSecret"));
            if (clientId is null && secret is null)
                break;
            if (clientId is null)
                found.Add($"{prefix}.clientId is missing while {prefix}.clientSecret is set.");
            else if (!Guid.TryParse(clientId, out _))
                found.Add($"{prefix}.clientId = '{clientId}' is not a GUID (the application id, e.g. 5f1c1b0e-…).");
            else if (secret is null)
                found.Add($"{prefix}.clientSecret is missing for application {clientId}.");
            else if (string.Equals(clientId, firstClientId, StringComparison.OrdinalIgnoreCase) || applications.Any(a => string.Equals(a.ClientId, clientId, StringComparison.OrdinalIgnoreCase)))
                found.Add($"{prefix}.clientId: application {clientId} is configured more than once (azure.activedirectory.clientId is the first).");
            else
                applications.Add(new GraphApplication(clientId, secret));
        }

        return applications;
    }

    /// <summary>A key file made once and kept (data/client-state.key, data/internal-api.key), owner-only from its first byte.</summary>
    private static byte[] LoadOrCreateKey(string path)
    {
        if (File.Exists(path))
            return Convert.FromBase64String(File.ReadAllText(path).Trim());
        var key = RandomNumberGenerator.GetBytes(32);
        EncryptionCertificates.WriteOwnerOnly(path, System.Text.Encoding.ASCII.GetBytes(Convert.ToBase64String(key)));
        return key;
    }
}
