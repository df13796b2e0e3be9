using System.Net;
using Microsoft.Graph.Models.ODataErrors;
using Microsoft.Graph.Users.Item.Presence.ClearPresence;
using Microsoft.Graph.Users.Item.Presence.SetPresence;
using PresenceActors.Presence;
using PresenceActors.Users;

namespace PresenceActors.Graph;

/// <summary>Our Teams presence session and presence reads, with the application credential, each through the governor (docs/graph-budget.md).</summary>
public sealed partial class GraphGateway
{
    // ---------- ITeamsPresencePort (application credential) ----------

    public async Task<TimeSpan> SetCallPresenceAsync(string userId, TeamsSessionRequest request, CancellationToken cancellationToken)
    {
        var application = Find(request.Application);
        var governor = application.Governor;
        using (var waitFor = CancellationTokenSource.CreateLinkedTokenSource(request.Withdrawn, cancellationToken))
        {
            try
            {
                // A keep-alive still waiting 20 s before its session lapses goes right after the clears.
                await governor.AcquireAsync(request.KeepAlive ? PresenceCallKind.KeepAlive : PresenceCallKind.Set, waitFor.Token,
                    request.ExpiresAt - TimeSpan.FromSeconds(20));
            }
            catch (OperationCanceledException) when (request.Withdrawn.IsCancellationRequested)
            {
                throw new PresenceCallWithdrawnException();
            }
        }

        if (request.Withdrawn.IsCancellationRequested)
            throw new PresenceCallWithdrawnException(); // withdrawn as it was let go: not sent, and no clear needed after it

        // While the budget is tight a session is asked for longer, so that it needs fewer keep-alives.
        var expiration = governor.Tight && _options.SessionTtlWhenTight > request.Expiration ? _options.SessionTtlWhenTight : request.Expiration;
        await application.Graph.Users[userId].Presence.SetPresence.PostAsync(new SetPresencePostRequestBody
        {
            SessionId = application.ClientId, Availability = request.Shown.Availability, Activity = request.Shown.Activity, ExpirationDuration = expiration,
        }, cancellationToken: cancellationToken);
        return expiration;
    }

    public async Task<bool> ClearCallPresenceAsync(string userId, string? application, CancellationToken cancellationToken)
    {
        if (application == TeamsSession.AnyApplication)
        {
            // Which application holds it is not known (a first set cut short by a stop): each clears its own.
            var gone = true;
            foreach (var each in Applications)
                gone &= await ClearCallPresenceAsync(userId, each, cancellationToken);
            return gone;
        }

        var holder = Find(application);
        await holder.Governor.AcquireAsync(PresenceCallKind.Clear, cancellationToken);
        try
        {
            await holder.Graph.Users[userId].Presence.ClearPresence.PostAsync(new ClearPresencePostRequestBody { SessionId = holder.ClientId },
                cancellationToken: cancellationToken);
            return false;
        }
        catch (ODataError e) when (e.ResponseStatusCode == (int)HttpStatusCode.NotFound)
        {
            return true; // U2: the session is already gone
        }
    }

    public async Task<TeamsPresence> ReadPresenceAsync(string userId, CancellationToken cancellationToken)
    {
        var application = Pick(userId);
        // A user's read waits at most this long for the budget: it fails then and is tried again with back-off (or left
        // to the next reconciliation), so reads never pile up behind writes for good.
        using (var waitFor = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            waitFor.CancelAfter(MaxReadWait);
            try
            {
                await application.Governor.AcquireAsync(PresenceCallKind.Read, waitFor.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"waited {MaxReadWait.TotalMinutes:0} min for Graph's presence budget");
            }
        }

        var presence = await application.Graph.Users[userId].Presence.GetAsync(cancellationToken: cancellationToken)
                       ?? throw new InvalidOperationException($"Graph returned no presence for {userId}.");
        return TeamsPresence.Parse(presence.Availability ?? "PresenceUnknown", presence.Activity ?? "PresenceUnknown", presence.SequenceNumber);
    }
}
