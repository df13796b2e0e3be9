using Xunit;

namespace PresenceActors.Tests.Support;

/// <summary>Tests with a deadline the issue sets (e.g. "within 1 s") run alone, not beside the heavy parallel ones.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class Alone
{
    public const string Name = "alone";
}
