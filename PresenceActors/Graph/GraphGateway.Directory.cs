using System.Net;
using Microsoft.Graph;
using Microsoft.Graph.Models;
using Microsoft.Graph.Models.ODataErrors;

namespace PresenceActors.Graph;

/// <summary>
/// User look-ups (docs/graph-api.md, section 9). One user: <c>GET /users/{id or UPN}</c>, then by mail.
/// Many: filtered reads (<c>userPrincipalName in (...)</c>, 15 values each, Graph's limit) sent 20 to a JSON batch, so
/// 300 users cost one round trip and 20 of the directory's resource units instead of 300; a read the directory throttles
/// is sent again after its Retry-After.
/// </summary>
public sealed partial class GraphGateway
{
    private const int ValuesPerRead = 15;
    private const int ReadsPerBatch = 20;
    private const int BatchesAtOnce = 4;
    private const int MaxBatchAttempts = 8;
    private static readonly string[] UserFields = ["id", "userPrincipalName", "mail", "displayName"];

    public async Task<DirectoryUser?> ResolveAsync(string idUpnOrMail, CancellationToken cancellationToken)
    {
        if (_users.TryGetValue(idUpnOrMail, out var cached) && _clock.GetUtcNow() - cached.At < _options.UserCacheLifetime)
            return cached.User;
        User? found;
        try
        {
            found = await _applications[0].Graph.Users[idUpnOrMail].GetAsync(r => r.QueryParameters.Select = ["id", "userPrincipalName", "mail", "displayName"], cancellationToken);
        }
        catch (ODataError e) when (e.ResponseStatusCode == (int)HttpStatusCode.NotFound)
        {
            // Not an id or UPN: try mail.
            var escaped = idUpnOrMail.Replace("'", "''");
            var byMail = await _applications[0].Graph.Users.GetAsync(r =>
            {
                r.QueryParameters.Filter = $"mail eq '{escaped}'";
                r.QueryParameters.Select = ["id", "userPrincipalName", "mail", "displayName"];
            }, cancellationToken);
            found = byMail?.Value?.FirstOrDefault();
        }

        var user = found?.Id is null ? null : new DirectoryUser(found.Id, found.UserPrincipalName ?? found.Id, found.Mail, found.DisplayName);
        Remember(idUpnOrMail, user, _clock.GetUtcNow());
        return user;
    }

    private DateTimeOffset _nextPurge;

    /// <summary>
    /// Remembers a look-up for <see cref="GraphOptions.UserCacheLifetime"/>, within <see cref="GraphOptions.UserCacheEntries"/>: when
    /// full, what expired is forgotten first, and what does not fit is not remembered (a full list of a million users is
    /// looked up again when sent again, rather than held in every node that took it: docs/scale.md).
    /// </summary>
    private void Remember(string key, DirectoryUser? user, DateTimeOffset now)
    {
        if (_users.Count >= _options.UserCacheEntries && now >= _nextPurge)
        {
            // At most once a minute: a full cache with nothing expired is not walked for every look-up of a long list.
            _nextPurge = now + TimeSpan.FromMinutes(1);
            foreach (var expired in _users.Where(u => now - u.Value.At >= _options.UserCacheLifetime).Select(u => u.Key).ToList())
                _users.TryRemove(expired, out _);
        }

        if (_users.Count >= _options.UserCacheEntries)
            return;

        _users[key] = (user, now);
        if (user is not null)
            _users[user.Id] = (user, now);
    }

    public async Task<IReadOnlyDictionary<string, DirectoryUser>> ResolveManyAsync(IReadOnlyCollection<string> keys, CancellationToken cancellationToken)
    {
        var found = new Dictionary<string, DirectoryUser>(StringComparer.OrdinalIgnoreCase);
        var asked = new List<string>();
        var now = _clock.GetUtcNow();
        foreach (var key in keys.Distinct(StringComparer.OrdinalIgnoreCase))
        {
            if (_users.TryGetValue(key, out var cached) && now - cached.At < _options.UserCacheLifetime)
            {
                if (cached.User is not null)
                    found[key] = cached.User;
            }
            else
            {
                asked.Add(key);
            }
        }

        // As the single look-up: an object id, else a user principal name, and what neither found by mail.
        var names = asked.Where(k => !Guid.TryParse(k, out _)).ToList();
        await ReadManyAsync("id", asked.Where(k => Guid.TryParse(k, out _)).ToList(), found, cancellationToken);
        await ReadManyAsync("userPrincipalName", names, found, cancellationToken);
        await ReadManyAsync("mail", names.Where(k => !found.ContainsKey(k)).ToList(), found, cancellationToken);

        now = _clock.GetUtcNow();
        foreach (var key in asked)
            Remember(key, found.GetValueOrDefault(key), now);

        return found;
    }

    private async Task ReadManyAsync(string property, List<string> keys, Dictionary<string, DirectoryUser> found, CancellationToken cancellationToken)
    {
        if (keys.Count == 0)
            return;
        var batches = keys.Chunk(ValuesPerRead).Chunk(ReadsPerBatch);
        await Parallel.ForEachAsync(batches, new ParallelOptions { MaxDegreeOfParallelism = BatchesAtOnce, CancellationToken = cancellationToken },
            async (reads, token) =>
            {
                var users = await ReadBatchAsync(property, reads, token);
                lock (found)
                {
                    foreach (var key in reads.SelectMany(r => r))
                    {
                        if (users.FirstOrDefault(u => Matches(u, property, key)) is { } user)
                            found[key] = user;
                    }
                }
            });
    }

    private static bool Matches(DirectoryUser user, string property, string key) => property switch
    {
        "id" => string.Equals(user.Id, key, StringComparison.OrdinalIgnoreCase),
        "mail" => string.Equals(user.Mail, key, StringComparison.OrdinalIgnoreCase),
        _ => string.Equals(user.UserPrincipalName, key, StringComparison.OrdinalIgnoreCase),
    };

    /// <summary>One JSON batch of filtered reads; reads the directory throttled (or failed for the moment) are sent again.</summary>
    private async Task<List<DirectoryUser>> ReadBatchAsync(string property, string[][] reads, CancellationToken cancellationToken)
    {
        var graph = _applications[0].Graph;
        var users = new List<DirectoryUser>();
        var pending = reads.ToList();
        for (var attempt = 1; pending.Count > 0; attempt++)
        {
            var content = new BatchRequestContentCollection(graph, ReadsPerBatch);
            var steps = new Dictionary<string, string[]>();
            foreach (var values in pending)
            {
                var read = graph.Users.ToGetRequestInformation(r =>
                {
                    r.QueryParameters.Filter = $"{property} in ({string.Join(",", values.Select(v => $"'{v.Replace("'", "''")}'"))})";
                    r.QueryParameters.Select = UserFields;
                });
                steps[await content.AddBatchRequestStepAsync(read)] = values;
            }

            var response = await graph.Batch.PostAsync(content, cancellationToken);
            var statuses = await response.GetResponsesStatusCodesAsync();
            var again = new List<string[]>();
            var wait = TimeSpan.Zero;
            foreach (var (step, values) in steps)
            {
                var status = statuses.GetValueOrDefault(step, HttpStatusCode.InternalServerError);
                if ((int)status is >= 200 and < 300)
                {
                    var page = await response.GetResponseByIdAsync<UserCollectionResponse>(step);
                    users.AddRange((page?.Value ?? []).Where(u => u.Id is not null)
                        .Select(u => new DirectoryUser(u.Id!, u.UserPrincipalName ?? u.Id!, u.Mail, u.DisplayName)));
                    continue;
                }

                using var failed = await response.GetResponseByIdAsync(step);
                var transient = status is HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout;
                if (!transient || attempt >= MaxBatchAttempts)
                    throw new ODataError { ResponseStatusCode = (int)status, Error = new MainError { Message = $"looking up users by {property}: Graph answered {(int)status} {await failed.Content.ReadAsStringAsync(cancellationToken)}" } };
                var retryAfter = failed.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(Math.Min(30, Math.Pow(2, attempt)));
                wait = retryAfter > wait ? retryAfter : wait;
                again.Add(values);
            }

            if (again.Count > 0)
                await Task.Delay(wait, _clock, cancellationToken);
            pending = again;
        }

        return users;
    }
}
