using Akka.Actor;
using Akka.Hosting;
using static PresenceActors.Users.UserPresenceCommands;

namespace PresenceActors.Users;

/// <summary>
/// What makes user actors lazy (docs/scale.md, "Lazy user actors"): a registration starts no actor, so an actor without
/// a link asks the registry for it on its first event; and an actor tells the cluster's <see cref="WorkInFlight"/> when
/// it starts or stops holding work, so that bulk reads reach it while idle ones are left alone.
/// </summary>
public sealed partial class UserPresenceActor
{
    // What the cluster's set of users holding work was last told of this user (null: nothing yet, by this incarnation).
    private bool? _toldHoldsWork;

    // When this incarnation last asked the registry for its link (it has none yet: docs/scale.md, "Lazy user actors").
    private long? _linkAskedAt;

    /// <summary>An actor without a link asks the registry again after this long if the link has not come.</summary>
    public static readonly TimeSpan AskLinkAgainAfter = TimeSpan.FromSeconds(30);

    /// <summary>Tells the cluster's set of users holding work when this user joins or leaves it (docs/scale.md).</summary>
    private void TellWorkInFlight()
    {
        var holds = _state.HoldsWork;
        if (_inFlight is null || holds == (_toldHoldsWork ?? false))
            return;
        _toldHoldsWork = holds;
        _inFlight.Mark(_state.UserId, holds);
    }

    /// <summary>
    /// An actor without a link asks the registry for it (registration starts no actor: docs/scale.md, "Lazy user
    /// actors"): it tells its link, none, and the registry answers with the link it should have, if any. Once per
    /// <see cref="AskLinkAgainAfter"/>, since an event of a user that is not registered asks too; and again after that
    /// long while the actor lives without a link, since the question or its answer can be lost (a registry that moves).
    /// </summary>
    private void AskForLink()
    {
        if (_state.Linked || (_linkAskedAt is { } asked && Environment.TickCount64 - asked < (long)AskLinkAgainAfter.TotalMilliseconds))
            return;
        if (Registry() is not { } registry)
            return;
        _linkAskedAt = Environment.TickCount64;
        registry.Tell(new LinkState(_state.UserId, null), Self);
        // Not a reason to stay alive: an actor of a user who is not registered still passivates, after a few asks.
        Timers.StartSingleTimer(AskLinkAgainKey, AskLinkAgain.Instance, AskLinkAgainAfter);
    }

    private const string AskLinkAgainKey = "ask-link-again";

    private void LazyCommands() => Command<AskLinkAgain>(_ =>
    {
        _linkAskedAt = null;
        AskForLink();
    });

    private sealed class AskLinkAgain : INotInfluenceReceiveTimeout
    {
        public static readonly AskLinkAgain Instance = new();
    }

    private IActorRef? Registry() =>
        ActorRegistry.For(Context.System).TryGet<Registration.UserRegistryKey>(out var registry) ? registry : null;
}
