using PresenceActors.Users;

namespace PresenceActors.Tests.Users;

/// <summary>Drives one <see cref="UserPresenceState"/> through inputs on a simulated clock and keeps every effect.</summary>
internal sealed class PresenceScenario
{
    private int _teamsSequence;

    public PresenceScenario(PresenceSettings? settings = null, string teamsUserId = "teams-1", string ucUserId = "uc-1")
    {
        Settings = settings ?? PresenceSettings.Default;
        State = UserPresenceState.Initial(teamsUserId);
        Apply(new UserLinked(ucUserId) { At = Now });
    }

    /// <summary>The rules in force; a test may change the mapping midway (then feed <see cref="PresenceRulesChanged"/>).</summary>
    public PresenceSettings Settings { get; set; }

    public UserPresenceState State { get; private set; }

    public DateTimeOffset Now { get; private set; } = new(2026, 11, 26, 8, 0, 0, TimeSpan.Zero);

    public List<PresenceEffect> AllEffects { get; } = [];

    public bool LastPersisted { get; private set; }

    public IReadOnlyList<UcUpdate> UcUpdates => AllEffects.OfType<SendUcUpdate>().Select(e => e.Update).ToList();

    /// <summary>Every input applied, in order: what the actor would have journaled or handled.</summary>
    public List<PresenceInput> Inputs { get; } = [];

    public IReadOnlyList<PresenceEffect> Apply(PresenceInput input)
    {
        Inputs.Add(input);
        var decision = State.Handle(input, Settings);
        State = decision.State;
        LastPersisted = decision.Persist;
        AllEffects.AddRange(decision.Effects);
        return decision.Effects;
    }

    public void Advance(TimeSpan by) => Now += by;

    public string NextTeamsSequence() => (++_teamsSequence).ToString("D10");

    public IReadOnlyList<PresenceEffect> Teams(
        string availability, string activity, TeamsPresenceSource source = TeamsPresenceSource.Notification, string? sequence = "auto") =>
        Apply(new TeamsPresenceObserved(availability, activity, sequence == "auto" ? NextTeamsSequence() : sequence, source) { At = Now });

    public IReadOnlyList<PresenceEffect> Uc(string status, bool onPhone = false, DateTimeOffset? reportedAt = null) =>
        Apply(new UcPresenceReported(status, onPhone, reportedAt ?? Now) { At = Now });

    /// <summary>Answers every Graph and front-end effect in <paramref name="effects"/> with success, and the effects those answers cause, until none is left.</summary>
    public IReadOnlyList<PresenceEffect> Succeed(IReadOnlyList<PresenceEffect> effects)
    {
        var produced = new List<PresenceEffect>();
        var queue = new Queue<PresenceEffect>(effects);
        while (queue.TryDequeue(out var effect))
        {
            var answer = effect switch
            {
                SendUcUpdate send => Apply(new UcUpdateAcknowledged(send.Update.Sequence) { At = Now }),
                SetTeamsSession set => Apply(new TeamsSessionSet(set.Operation, Now + set.Expiration) { At = Now }),
                ClearTeamsSession clear => Apply(new TeamsSessionCleared(clear.Operation, false) { At = Now }),
                _ => [],
            };
            produced.AddRange(answer);
            foreach (var next in answer)
                queue.Enqueue(next);
        }

        return produced;
    }

    /// <summary>Advances to the armed timer and fires it.</summary>
    public IReadOnlyList<PresenceEffect> FireTimer()
    {
        var due = State.TimerDueAt ?? throw new InvalidOperationException("no timer is armed");
        if (due > Now)
            Now = due;
        return Apply(new TimerFired { At = Now });
    }
}
