using Microsoft.Extensions.Configuration;
using PresenceActors.Host;
using PresenceActors.Host.Configuration;
using Xunit;

namespace PresenceActors.Tests.Support;

/// <summary>
/// The shipped deploy/application.properties with a deployment's environment over it (the compose file's, the systemd
/// unit's), loaded as the service loads it.
/// </summary>
internal static class DeployedConfiguration
{
    public static string Root() => RepositoryRoot.Path;

    /// <summary>Loads it; the file must parse, <paramref name="problems"/> lists what the configuration check found.</summary>
    public static PresenceServiceOptions? Load(IReadOnlyDictionary<string, string> environment, out List<string> problems)
    {
        var properties = PropertiesFile.Parse(File.ReadAllText(Path.Combine(Root(), "deploy", "application.properties")), out var syntax);
        Assert.Empty(syntax);
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(properties.Select(p => KeyValuePair.Create(p.Key, (string?)p.Value)))
            .AddInMemoryCollection(environment.Select(e => KeyValuePair.Create(e.Key, (string?)e.Value)))
            .Build();
        return PresenceConfiguration.Load(configuration, out problems);
    }
}
