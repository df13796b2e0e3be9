namespace PresenceActors.Simulators.Common;

/// <summary>Endpoint metadata naming the API a request hit, for fault injection, rate limits and the call log.</summary>
public sealed record SimApi(string Name);

public static class SimApiExtensions
{
    public static TBuilder Api<TBuilder>(this TBuilder builder, string name) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new SimApi(name));
}
