using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Event;
using Akka.Persistence;
using PresenceActors.Users;
using static PresenceActors.Mapping.MappingCommands;

namespace PresenceActors.Mapping;

/// <summary>
/// The cluster's mapping (docs/mapping.md): a persistent singleton holding the table in force and every edit, who made
/// it and when (the audit trail). An edit is validated here, saved as the next version only on the version its author
/// saw, and published to every node's <see cref="MappingFollower"/>; the followers also ask for it every few seconds, so a
/// node that missed the publication catches up.
/// </summary>
public sealed class PresenceMappingActor : ReceivePersistentActor
{
    public const string Topic = "presence-mapping";

    /// <summary>Edits kept for the history (the journal keeps them all until a snapshot).</summary>
    public const int HistoryKept = 100;

    public const int MaxComment = 500;

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly TimeProvider _clock;
    private PresenceMapping _current;
    private ImmutableArray<MappingSaved> _edits = [];

    public PresenceMappingActor(PresenceMapping configured, TimeProvider clock)
    {
        _clock = clock;
        _current = configured with { Version = 0 };

        Recover<SnapshotOffer>(o =>
        {
            var snapshot = (MappingSnapshot)o.Snapshot;
            _current = snapshot.Current;
            _edits = snapshot.Edits;
        });
        Recover<MappingSaved>(Apply);

        Command<GetMapping>(_ => Sender.Tell(new CurrentMapping(_current)));
        Command<GetMappingHistory>(_ => Sender.Tell(new MappingHistory([.. _edits.Select(e => new MappingEditSummary(e.Mapping.Version, e.At, e.By, e.Comment))])));
        Command<SaveMapping>(Save);
        Command<SaveSnapshotSuccess>(s => DeleteMessages(s.Metadata.SequenceNr));
        Command<SaveSnapshotFailure>(f => _log.Warning("Snapshot of the mapping failed: {0}", f.Cause.Message));
        Command<DeleteMessagesSuccess>(_ => { });
        Command<DeleteMessagesFailure>(_ => { });
    }

    public override string PersistenceId => "presence-mapping";

    protected override void OnReplaySuccess() => Publish();

    private void Save(SaveMapping save)
    {
        var problems = save.Proposed.Problems().ToList();
        if (save.Comment is { Length: > MaxComment })
            problems.Add($"comment: at most {MaxComment} characters.");
        if (problems.Count > 0)
        {
            Sender.Tell(new SaveResult(false, _current, [.. problems]));
            return;
        }

        if (save.BasedOn != _current.Version)
        {
            var last = _edits.IsEmpty ? "from configuration" : $"saved by {_edits[^1].By} at {_edits[^1].At:u}";
            Sender.Tell(new SaveResult(false, _current,
                [$"basedOn: the mapping changed meanwhile; version {_current.Version} is in force ({last}). Look at it and save again."]));
            return;
        }

        if (save.Proposed.Trimmed().SameRulesAs(_current))
        {
            Sender.Tell(new SaveResult(true, _current, []));
            return;
        }

        var saved = new MappingSaved(save.Proposed.Trimmed() with { Version = _current.Version + 1 }, save.By, _clock.GetUtcNow(), save.Comment);
        var replyTo = Sender;
        Persist(saved, e =>
        {
            Apply(e);
            _log.Info("mapping version {0} saved by {1}{2}", e.Mapping.Version, e.By, e.Comment is null ? "" : $": {e.Comment}");
            replyTo.Tell(new SaveResult(true, _current, []));
            Publish();
            if (LastSequenceNr % 20 == 0)
                SaveSnapshot(new MappingSnapshot(_current, _edits));
        });
    }

    private void Apply(MappingSaved saved)
    {
        _current = saved.Mapping;
        _edits = _edits.Add(saved);
        if (_edits.Length > HistoryKept)
            _edits = _edits.RemoveRange(0, _edits.Length - HistoryKept);
    }

    private void Publish()
    {
        var current = new CurrentMapping(_current);
        DistributedPubSub.Get(Context.System).Mediator.Tell(new Publish(Topic, current));
    }
}
