using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;

namespace PresenceActors.Simulators.Graph;

/// <summary>The tenant's presence subscriptions: what a resource names, the checks a new one passes, renewal and deletion.</summary>
public sealed partial class SimTenant
{
    [GeneratedRegex(@"^/?communications/presences\?\$filter=id\s+in\s+\((?<ids>.*)\)$", RegexOptions.IgnoreCase)]
    private static partial Regex PresenceFilter();

    [GeneratedRegex(@"^/?communications/presences/(?<id>[^/?]+)$", RegexOptions.IgnoreCase)]
    private static partial Regex SinglePresence();

    [GeneratedRegex(@"^\s*'(?<id>[^']+)'\s*$")]
    private static partial Regex QuotedId();

    /// <summary>The user ids a presence resource names; 400 when the filter is malformed (ids must be single-quoted).</summary>
    public static IReadOnlySet<string> ParsePresenceResource(string resource)
    {
        var single = SinglePresence().Match(resource);
        if (single.Success)
            return new HashSet<string>([single.Groups["id"].Value], StringComparer.OrdinalIgnoreCase);
        var filter = PresenceFilter().Match(resource);
        if (!filter.Success)
            throw new SimGraphError(400, "InvalidRequest", $"Invalid filter clause: the resource '{resource}' is not a presence resource.");
        var ids = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var part in filter.Groups["ids"].Value.Split(','))
        {
            var quoted = QuotedId().Match(part);
            if (!quoted.Success)
                throw new SimGraphError(400, "InvalidRequest", "Invalid filter clause: ids must be single-quoted.");
            ids.Add(quoted.Groups["id"].Value);
        }

        if (ids.Count > MaxIdsPerCall)
            throw new SimGraphError(400, "InvalidRequest", $"The number of ids in the filter ({ids.Count}) exceeds the maximum of {MaxIdsPerCall}.");
        return ids;
    }

    /// <summary>Checks Graph's rules for a new subscription (the handshake happens outside, then <see cref="AddSubscription"/>).</summary>
    public IReadOnlySet<string> CheckNewSubscription(string appId, string creatorId, string resource, DateTimeOffset expiration,
        bool includeResourceData, string? certificate, string? certificateId)
    {
        var ids = ParsePresenceResource(resource);
        var now = clock.GetUtcNow();
        if (expiration <= now)
            throw new SimGraphError(400, "InvalidRequest", "Subscription expiration can only be in the future.");
        if (expiration > now + MaxSubscriptionLifetime + TimeSpan.FromSeconds(30))
            throw new SimGraphError(400, "InvalidRequest", $"Subscription expiration can only be {MaxSubscriptionLifetime.TotalMinutes:0} minutes in the future for presence resources.");
        if (includeResourceData && (string.IsNullOrEmpty(certificate) || string.IsNullOrEmpty(certificateId)))
            throw new SimGraphError(400, "InvalidRequest", "encryptionCertificate and encryptionCertificateId are required when includeResourceData is true.");
        lock (_gate)
        {
            // Graph allows one presence subscription per user and application.
            if (_subscriptions.Values.Any(s => s.ApplicationId == appId && s.CreatorId == creatorId && s.ExpirationDateTime > now))
                throw new SimGraphError(409, "ExtensionError", "A subscripton already exists for this user and application.");
        }

        return ids;
    }

    public SimSubscription AddSubscription(SimSubscription subscription)
    {
        lock (_gate)
        {
            var now = clock.GetUtcNow();
            if (_subscriptions.Values.Any(s => s.ApplicationId == subscription.ApplicationId && s.CreatorId == subscription.CreatorId && s.ExpirationDateTime > now))
                throw new SimGraphError(409, "ExtensionError", "A subscripton already exists for this user and application.");
            _subscriptions[subscription.Id] = subscription;
            return subscription;
        }
    }

    public SimSubscription GetSubscription(string id, string appId)
    {
        lock (_gate)
        {
            if (_subscriptions.GetValueOrDefault(id) is { } s && s.ApplicationId == appId && s.ExpirationDateTime > clock.GetUtcNow())
                return s;
            throw new SimGraphError(404, "ResourceNotFound", $"The object was not found: subscription {id}.");
        }
    }

    public IReadOnlyList<SimSubscription> ListSubscriptions(string? appId = null)
    {
        lock (_gate)
        {
            var now = clock.GetUtcNow();
            return _subscriptions.Values.Where(s => (appId is null || s.ApplicationId == appId) && s.ExpirationDateTime > now).ToList();
        }
    }

    public SimSubscription RenewSubscription(string id, string appId, DateTimeOffset expiration, X509Certificate2? certificate, string? certificateId)
    {
        lock (_gate)
        {
            var subscription = GetSubscription(id, appId);
            var now = clock.GetUtcNow();
            if (expiration <= now || expiration > now + MaxSubscriptionLifetime + TimeSpan.FromSeconds(30))
                throw new SimGraphError(400, "InvalidRequest", $"Subscription expiration must be in the future and at most {MaxSubscriptionLifetime.TotalMinutes:0} minutes away.");
            subscription.ExpirationDateTime = expiration;
            if (certificate is not null)
            {
                subscription.EncryptionCertificate = certificate;
                subscription.EncryptionCertificateId = certificateId;
            }

            return subscription;
        }
    }

    public void DeleteSubscription(string id, string appId)
    {
        lock (_gate)
        {
            GetSubscription(id, appId);
            _subscriptions.Remove(id);
        }
    }

    /// <summary>Fault injection: the subscription disappears without any lifecycle notification.</summary>
    public bool LoseSubscription(string id)
    {
        lock (_gate)
            return _subscriptions.Remove(id);
    }

    /// <summary>Live subscriptions watching this user (expired ones deliver nothing).</summary>
    public IReadOnlyList<SimSubscription> SubscriptionsWatching(string userId)
    {
        lock (_gate)
        {
            var now = clock.GetUtcNow();
            return _subscriptions.Values.Where(s => s.ExpirationDateTime > now && s.UserIds.Contains(userId)).ToList();
        }
    }
}
