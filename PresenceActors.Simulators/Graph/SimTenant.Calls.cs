namespace PresenceActors.Simulators.Graph;

/// <summary>What Teams does with an incoming Teams call, by the user's presence (docs/mapping.md, "Busy-on-busy").</summary>
/// <param name="Rings">The call rings the user's Teams clients.</param>
/// <param name="Reason">Why it was rejected (Teams gives the caller busy or voicemail), or "rings".</param>
public sealed record IncomingCallOutcome(bool Rings, string Reason, string Availability, string Activity);

public sealed partial class SimTenant
{
    /// <summary>
    /// The tenant's Teams calling policy "busy on busy": a user in a Teams call of their own rejects a second one. Off
    /// by default, as in Teams.
    /// </summary>
    public bool BusyOnBusyPolicy { get; set; }

    /// <summary>
    /// An incoming Teams call, as Teams treats it: a user shown DoNotDisturb (their own, or an application session's, which
    /// outranks Busy) is not rung; a user in a Teams call of their own is not rung when the busy-on-busy policy is on. An
    /// application's Busy/InACall session does not make Teams reject anything (Swyx documents it): it rings.
    /// </summary>
    public IncomingCallOutcome IncomingTeamsCall(string userId)
    {
        lock (_gate)
        {
            var user = RequireUser(userId);
            var (availability, activity) = Aggregate(user);
            if (availability == "DoNotDisturb")
                return new IncomingCallOutcome(false, "do not disturb", availability, activity);
            if (BusyOnBusyPolicy && user.Client is TeamsClientState.InACall or TeamsClientState.InAConferenceCall)
                return new IncomingCallOutcome(false, "busy on busy", availability, activity);
            return new IncomingCallOutcome(true, "rings", availability, activity);
        }
    }
}
