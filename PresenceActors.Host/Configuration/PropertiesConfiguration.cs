using Microsoft.Extensions.Configuration;

namespace PresenceActors.Host.Configuration;

/// <summary>
/// The seed's application.properties as a configuration source (docs/operator-guide.md, "Configuration keys"): read with
/// <see cref="PropertiesFile"/>, its keys put in the configuration's own form (azure.activedirectory.technical.users[0].username
/// becomes azure:activedirectory:technical:users:0:username, the form environment variables give too), and read again
/// when the file changes if the source asks for it.
/// </summary>
public sealed class PropertiesConfigurationSource : FileConfigurationSource
{
    public override IConfigurationProvider Build(IConfigurationBuilder builder)
    {
        EnsureDefaults(builder);
        return new PropertiesConfigurationProvider(this);
    }
}

/// <summary>Holds the lines of the last reading that were not 'key = value', described without their text (it may be a secret).</summary>
public sealed class PropertiesConfigurationProvider(PropertiesConfigurationSource source) : FileConfigurationProvider(source)
{
    public IReadOnlyList<string> Problems { get; private set; } = [];

    public override void Load(Stream stream)
    {
        using var reader = new StreamReader(stream);
        var properties = PropertiesFile.Parse(reader.ReadToEnd(), out var problems);
        var name = Path.GetFileName(Source.Path);
        Problems = [.. problems.Select(p => $"{name}: {p}")];
        var data = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var (key, value) in properties)
            data[PresenceConfiguration.PathOf(key)] = value;
        Data = data;
    }
}

public static class PropertiesConfigurationExtensions
{
    /// <summary>Adds a properties file; with <paramref name="reloadOnChange"/> its changes reach <c>IOptionsMonitor</c> readers.</summary>
    public static IConfigurationBuilder AddPropertiesFile(this IConfigurationBuilder builder, string path, bool reloadOnChange) =>
        builder.Add<PropertiesConfigurationSource>(source =>
        {
            var full = Path.GetFullPath(path);
            // No exclusion filter: the default one would hide a file whose name starts with a dot.
            source.FileProvider = new Microsoft.Extensions.FileProviders.PhysicalFileProvider(Path.GetDirectoryName(full)!,
                Microsoft.Extensions.FileProviders.Physical.ExclusionFilters.None);
            source.Path = Path.GetFileName(full);
            source.Optional = false;
            source.ReloadOnChange = reloadOnChange;
        });

    /// <summary>The problems of every properties file in the configuration, as last read.</summary>
    public static IEnumerable<string> PropertiesProblems(this IConfiguration configuration) =>
        configuration is IConfigurationRoot root ? root.Providers.OfType<PropertiesConfigurationProvider>().SelectMany(p => p.Problems) : [];
}
