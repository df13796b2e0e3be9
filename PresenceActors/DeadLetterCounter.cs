using Akka.Actor;
using Akka.Event;

namespace PresenceActors;

/// <summary>
/// Counts the messages that reached no actor (<c>presence_dead_letters_total</c>, by message type). In normal operation
/// there are none: a reply to nobody shows up here (a late Taken, after its ask timed out, is expected and suppressed), and Akka logs the
/// first few of them at information level. Akka's own suppressed ones (a shard region registering with a coordinator
/// that is still starting, retried by design) are not counted.
/// </summary>
public sealed class DeadLetterCounter : ReceiveActor
{
    public DeadLetterCounter(PresenceMetrics metrics)
    {
        Receive<SuppressedDeadLetter>(_ => { });
        Receive<AllDeadLetters>(letter => metrics.OnDeadLetter(letter.Message.GetType().Name));
    }

    protected override void PreStart() => Context.System.EventStream.Subscribe(Self, typeof(AllDeadLetters));

    protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);
}
