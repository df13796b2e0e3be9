using System.Collections.Immutable;
using Akka.Actor;
using static PresenceActors.Registration.UserRegistryCommands;

namespace PresenceActors.Registration;

/// <summary>
/// The registry's mappings in pages (docs/scale.md, "Messages of bounded size"). The registry may run on another node,
/// and a message between nodes must fit in one remoting frame (Akka's default is 128,000 bytes; hocon/cluster.hocon
/// allows 4 MiB): a list of every mapping grows with the users, so no frame is large enough, and it would be dropped on
/// the way. A page stays under Akka's default.
/// </summary>
public static class RegistryPages
{
    /// <summary>What a page's mappings may weigh, serialized at worst (JSON escapes of every non-ASCII character).</summary>
    public const int PageBytes = 96_000;

    /// <summary>Every mapping, by UC user id, asked page by page.</summary>
    public static async Task<List<UserMapping>> AllMappingsAsync(this IActorRef registry, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var all = new List<UserMapping>();
        string? after = null;
        do
        {
            var page = await registry.Ask<MappingList>(new ListMappings(after), timeout, cancellationToken);
            all.AddRange(page.Mappings);
            after = page.Next;
        }
        while (after is not null);

        return all;
    }

    /// <summary>The page of <paramref name="sorted"/> (ordinal by UC user id) that follows <paramref name="after"/>.</summary>
    public static MappingList Page(ImmutableArray<UserMapping> sorted, string? after)
    {
        var start = 0;
        if (after is not null)
        {
            // The first mapping whose UC user id sorts after the last one of the previous page.
            int low = 0, high = sorted.Length;
            while (low < high)
            {
                var middle = (low + high) / 2;
                if (string.CompareOrdinal(sorted[middle].UcUserId, after) <= 0)
                    low = middle + 1;
                else
                    high = middle;
            }

            start = low;
        }

        var end = start;
        var bytes = 0;
        while (end < sorted.Length && (end == start || bytes + Weight(sorted[end]) <= PageBytes))
            bytes += Weight(sorted[end++]);
        var page = sorted.Skip(start).Take(end - start).ToImmutableArray();
        return new MappingList(page, end < sorted.Length ? page[^1].UcUserId : null);
    }

    /// <summary>
    /// Items in messages that fit one remoting frame: at most <paramref name="maxCount"/> each, and at most
    /// <paramref name="maxBytes"/> by their worst-case <paramref name="weight"/> (an item heavier alone still goes, alone).
    /// </summary>
    public static IEnumerable<T[]> Chunks<T>(IEnumerable<T> items, Func<T, int> weight, int maxBytes, int maxCount)
    {
        var chunk = new List<T>();
        var bytes = 0;
        foreach (var item in items)
        {
            var w = weight(item);
            if (chunk.Count > 0 && (chunk.Count >= maxCount || bytes + w > maxBytes))
            {
                yield return [.. chunk];
                chunk.Clear();
                bytes = 0;
            }

            chunk.Add(item);
            bytes += w;
        }

        if (chunk.Count > 0)
            yield return [.. chunk];
    }

    /// <summary>A mapping's serialized size at worst: six bytes for each character JSON may escape, and the property names.</summary>
    public static int Weight(UserMapping m) => Escaped(m.UcUserId) + Escaped(m.TeamsUserId) + Escaped(m.UserPrincipalName) + 80;

    /// <summary>A string's serialized size at worst, quotes included.</summary>
    public static int Escaped(string? value) => value is null ? 4 : value.Sum(c => c is >= ' ' and < (char)127 and not ('"' or '\\' or '<' or '>' or '&' or '\'' or '+' or '`') ? 1 : 6) + 2;
}
