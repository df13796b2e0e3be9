using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using PresenceActors.Cluster;
using PresenceActors.Graph;
using PresenceActors.Ingress;
using PresenceActors.Users;

namespace PresenceActors.Host.Configuration;

// The keys that are plain values (durations and numbers), bound by the configuration binder to one class per section
// and checked by one IValidateOptions validator each (docs/decisions.md, "Configuration: …"). Their defaults are the
// option types' own, written there once.

/// <summary>presence.session.*: our Teams session's lifetime and keep-alive.</summary>
public sealed class SessionKeys
{
    public TimeSpan Ttl { get; set; } = PresenceSettings.Default.SessionTtl;
    public TimeSpan Refresh { get; set; } = PresenceSettings.Default.SessionRefresh;
    public TimeSpan MaxTtl { get; set; } = PresenceSettings.Default.LongestSessionTtl;
}

/// <summary>presence.uc.*: how long a UC call may last before it is taken as ended.</summary>
public sealed class UcKeys
{
    public TimeSpan MaxCallLength { get; set; } = PresenceSettings.Default.MaxUcCallLength;
}

/// <summary>presence.cluster.*: the fail-over timings and how long a node may take to join.</summary>
public sealed class ClusterKeys
{
    private static readonly PresenceClusterOptions Defaults = new();
    public TimeSpan HeartbeatPause { get; set; } = Defaults.HeartbeatPause;
    public TimeSpan StableAfter { get; set; } = Defaults.StableAfter;
    public TimeSpan DownRemovalMargin { get; set; } = Defaults.DownRemovalMargin;
    public TimeSpan UpWithin { get; set; } = Defaults.UpWithin;
}

/// <summary>presence.ingress.*: the ingress log's bounds.</summary>
public sealed class IngressKeys
{
    private static readonly IngressOptions Defaults = new();
    public int MaxBacklog { get; set; } = Defaults.MaxBacklog;
    public TimeSpan CommitTimeout { get; set; } = Defaults.AppendTimeout;
    public TimeSpan Lease { get; set; } = Defaults.Lease;
}

/// <summary>presence.persistence.*: how often the journal's trim runs (the provider and connection string are read as text).</summary>
public sealed class PersistenceKeys
{
    public TimeSpan TrimInterval { get; set; } = PresenceActors.Persistence.PresencePersistenceOptions.DefaultTrimInterval;
}

/// <summary>presence.graph.*: connections and the presence budget.</summary>
public sealed class GraphKeys
{
    public int MaxConnections { get; set; } = GraphOptions.DefaultMaxConnections;
    public int PresenceBudget { get; set; } = GraphOptions.DefaultPresenceBudget;
}

public sealed class SessionKeysValidation : IValidateOptions<SessionKeys>
{
    public ValidateOptionsResult Validate(string? name, SessionKeys keys) => BoundKeys.Result(
        keys.Ttl < TimeSpan.FromMinutes(5) || keys.Ttl > TimeSpan.FromHours(4)
            ? $"presence.session.ttl = {keys.Ttl} is outside what Graph accepts (00:05:00 to 04:00:00)."
            : keys.Refresh >= keys.Ttl || keys.Refresh <= TimeSpan.Zero
                ? $"presence.session.refresh = {keys.Refresh} must be positive and shorter than presence.session.ttl ({keys.Ttl})."
                : null,
        keys.MaxTtl < keys.Ttl || keys.MaxTtl > TimeSpan.FromHours(4)
            ? $"presence.session.maxTtl = {keys.MaxTtl} must be at least presence.session.ttl ({keys.Ttl}) and at most 04:00:00 (Graph's limit)."
            : null);
}

public sealed class UcKeysValidation : IValidateOptions<UcKeys>
{
    public ValidateOptionsResult Validate(string? name, UcKeys keys) => BoundKeys.Result(
        keys.MaxCallLength < TimeSpan.FromMinutes(5) ? $"presence.uc.maxCallLength = {keys.MaxCallLength} is shorter than 00:05:00." : null);
}

public sealed class ClusterKeysValidation : IValidateOptions<ClusterKeys>
{
    public ValidateOptionsResult Validate(string? name, ClusterKeys keys) => BoundKeys.Result(
        BoundKeys.Within("presence.cluster.heartbeatPause", keys.HeartbeatPause, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1)),
        BoundKeys.Within("presence.cluster.stableAfter", keys.StableAfter, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(5)),
        BoundKeys.Within("presence.cluster.downRemovalMargin", keys.DownRemovalMargin, TimeSpan.Zero, TimeSpan.FromMinutes(5)),
        keys.UpWithin < TimeSpan.FromSeconds(10) ? $"presence.cluster.upWithin = {keys.UpWithin} is too short: a node needs at least 00:00:10 to join." : null);
}

public sealed class IngressKeysValidation : IValidateOptions<IngressKeys>
{
    public ValidateOptionsResult Validate(string? name, IngressKeys keys) => BoundKeys.Result(
        keys.MaxBacklog is < 100 or > 10_000_000 ? $"presence.ingress.maxBacklog = {keys.MaxBacklog} is not a whole number from 100 to 10000000." : null,
        BoundKeys.Within("presence.ingress.commitTimeout", keys.CommitTimeout, TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(2500)),
        BoundKeys.Within("presence.ingress.lease", keys.Lease, TimeSpan.FromSeconds(2), TimeSpan.FromMinutes(5)));
}

public sealed class PersistenceKeysValidation : IValidateOptions<PersistenceKeys>
{
    public ValidateOptionsResult Validate(string? name, PersistenceKeys keys) => BoundKeys.Result(
        BoundKeys.Within("presence.persistence.trimInterval", keys.TrimInterval, TimeSpan.FromSeconds(1), TimeSpan.FromDays(1)));
}

public sealed class GraphKeysValidation : IValidateOptions<GraphKeys>
{
    public ValidateOptionsResult Validate(string? name, GraphKeys keys) => BoundKeys.Result(
        keys.MaxConnections <= 0 ? $"presence.graph.maxConnections = {keys.MaxConnections} is not a whole number above 0." : null,
        keys.PresenceBudget <= 0 ? $"presence.graph.presenceBudget = {keys.PresenceBudget} is not a whole number above 0." : null);
}

public static partial class BoundKeys
{
    /// <summary>
    /// Registers the bound keys with their validators and <c>ValidateOnStart</c>: a node's host refuses to start on a
    /// value `config check` would refuse.
    /// </summary>
    public static IServiceCollection AddBoundKeys(this IServiceCollection services, IConfiguration configuration)
    {
        var normalised = Normalised(configuration);
        void Add<T, TValidation>(string section) where T : class where TValidation : class, IValidateOptions<T>
        {
            services.AddOptions<T>().Bind(normalised.GetSection(section)).ValidateOnStart();
            services.AddSingleton<IValidateOptions<T>, TValidation>();
        }

        Add<SessionKeys, SessionKeysValidation>("presence:session");
        Add<UcKeys, UcKeysValidation>("presence:uc");
        Add<ClusterKeys, ClusterKeysValidation>("presence:cluster");
        Add<IngressKeys, IngressKeysValidation>("presence:ingress");
        Add<GraphKeys, GraphKeysValidation>("presence:graph");
        Add<PersistenceKeys, PersistenceKeysValidation>("presence:persistence");
        return services;
    }

    /// <summary>
    /// The section bound and checked as the host will do it, each problem added to <paramref name="found"/> naming its
    /// key; the defaults when it cannot be bound. The binder stops at a section's first value it cannot convert, so a
    /// second bad value of the same section is reported once the first is fixed.
    /// </summary>
    public static T Bind<T>(string section, IConfiguration normalised, IValidateOptions<T> validation, List<string> found) where T : class, new()
    {
        T keys;
        try
        {
            keys = normalised.GetSection(section).Get<T>() ?? new T();
        }
        catch (InvalidOperationException e)
        {
            var path = FailedAt().Match(e.Message) is { Success: true } at ? at.Groups["path"].Value : section;
            var expected = e.Message.Contains("TimeSpan", StringComparison.Ordinal) ? "a duration like 00:05:00" : "a whole number";
            // The binder names the member ("Refresh"); the problem names the key as the operator wrote it.
            var key = normalised.AsEnumerable().FirstOrDefault(k => string.Equals(k.Key, path, StringComparison.OrdinalIgnoreCase)).Key ?? path;
            found.Add($"{key.Replace(':', '.')} = '{normalised[path]}' is not {expected}.");
            return new T();
        }

        if (validation.Validate(Options.DefaultName, keys) is { Failed: true } result)
            found.AddRange(result.Failures);
        return keys;
    }

    /// <summary>Every key in the configuration's own form (a:b:0:c), the colon form winning over a dotted one (docs/decisions.md, "Configuration: …").</summary>
    public static IConfiguration Normalised(IConfiguration configuration)
    {
        var values = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var (key, value) in configuration.AsEnumerable())
        {
            if (string.IsNullOrWhiteSpace(value))
                continue; // an empty key is an unset one, as everywhere in the configuration
            var path = PresenceConfiguration.PathOf(key);
            if (path == key || !values.ContainsKey(path))
                values[path] = value.Trim();
        }

        return new ConfigurationBuilder().AddInMemoryCollection(values).Build();
    }

    internal static string? Within(string key, TimeSpan value, TimeSpan min, TimeSpan max) =>
        value < min || value > max ? $"{key} = {value} is not a duration from {min:c} to {max:c}." : null;

    internal static ValidateOptionsResult Result(params string?[] problems) =>
        problems.OfType<string>().ToList() is { Count: > 0 } failed ? ValidateOptionsResult.Fail(failed) : ValidateOptionsResult.Success;

    [GeneratedRegex("at '(?<path>[^']+)'")]
    private static partial Regex FailedAt();
}
