namespace PresenceActors.Webhooks;

/// <summary>How long the internal API waits for a user's actor to journal a UC report before answering 503.</summary>
public sealed record WebhookFlowOptions
{
    /// <summary>The UC back end is answered within this; what is not confirmed by then is answered 503 and sent again.</summary>
    public TimeSpan AckTimeout { get; init; } = TimeSpan.FromSeconds(2);
}
