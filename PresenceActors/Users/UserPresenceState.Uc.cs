using System.Collections.Immutable;
using PresenceActors.Presence;

namespace PresenceActors.Users;

/// <summary>The rules' UC side: reports and their E2 echoes, the outbox to the front ends, and the length limit of a UC call.</summary>
public sealed partial record UserPresenceState
{
    private sealed partial class Decider
    {
        public void ReportUc(UcPresenceReported report)
        {
            var status = UcStatus.Of(report.Status);
            if (report.ReportedAt < _s.UcReportedAt)
                return; // older than what we already know; a repeat falls through and changes nothing

            if (report.ReportedAt != _s.UcReportedAt)
                Set(_s with { UcReportedAt = report.ReportedAt });
            ApplyUcStatus(status, report.ReportedAt);

            if (report.OnPhone && !_s.UcOnPhone && !(_s.UcCallCappedReport is { } capped && report.ReportedAt <= capped))
            {
                Set(_s with { UcOnPhone = true, UcCallStartedAt = now, UcCallCappedReport = null });
                Note("U1", "UC call started; Teams set Busy/InACall with our session");
            }
            else if (!report.OnPhone && _s.UcOnPhone)
            {
                Set(_s with { UcOnPhone = false, UcCallStartedAt = null });
                Note("U2", "UC call ended; our Teams session cleared");
                if (_s.RestorePending && !_s.TeamsCallActive)
                    FinishTeamsCall();
            }
        }

        private void ApplyUcStatus(UcStatus status, DateTimeOffset reportedAt)
        {
            if (status.Matches(_s.UcLastReported))
            {
                if (status.Value != _s.UcLastReported!.Value)
                    Set(_s with { UcLastReported = status });
                return; // a repeat (a phone-only report, a redelivery): no status change
            }

            Set(_s with { UcLastReported = status });
            var outbox = _s.Outbox;
            var echoed = outbox.Unechoed.Find(u => status.Matches(u.Status)); // the oldest: newer ones may still follow
            if (echoed is not null)
            {
                // E2: our own update reported back; older ones can no longer reach UC after it.
                var rest = outbox.Unechoed.RemoveAll(u => u.Sequence <= echoed.Sequence);
                Set(_s with
                {
                    UcCurrent = rest.IsEmpty ? status : _s.UcCurrent, // newer updates are still heading for UC
                    Outbox = outbox with { Unechoed = rest, StatusBeforeUpdates = rest.IsEmpty ? null : status },
                });
                return;
            }

            if (status.Matches(_s.UcCurrent))
            {
                if (status.Value != _s.UcCurrent!.Value)
                    Set(_s with { UcCurrent = status }); // UC's own spelling wins, so a restore is verbatim
                return;
            }

            var duringCall = _s.TeamsCallActive || _s.RestorePending;
            var olderThanOurUpdates = !outbox.Unechoed.IsEmpty
                && (reportedAt < outbox.Unechoed[0].OccurredAt || status.Matches(outbox.StatusBeforeUpdates));
            if (olderThanOurUpdates)
            {
                // UC reporting what it showed before our update reached it.
                if (duringCall && reportedAt < _s.TeamsCallStartedAt && !status.Matches(outbox.StatusBeforeUpdates))
                {
                    Set(_s with { UcPrior = status });
                    Note("T1", $"UC changed to {status} just before the Teams call; prior corrected");
                }

                return;
            }

            // Someone else changed UC. Updates already acknowledged have been applied before this change.
            Set(_s with
            {
                UcCurrent = status,
                Outbox = outbox with
                {
                    Unechoed = outbox.Unechoed.RemoveAll(u => u.Sequence <= outbox.LastAcknowledged),
                    StatusBeforeUpdates = status,
                },
            });
            if (outbox.Pending is { } superseded)
            {
                // Someone else changed UC while our update may still be on its way: re-assert their choice with a
                // higher sequence, so that the front end ends on it whatever order the two arrive in.
                Set(_s with { UcCurrent = superseded.Status });
                IssueUcUpdate(status, superseded.Reason);
            }

            if (duringCall)
            {
                Set(_s with { UcChangedDuringCall = true });
                Note("T2", $"UC changed to {status} during the Teams call; it will stand");
            }
            else
            {
                Note("uc", $"UC status {status}");
            }
        }

        private void IssueUcUpdate(UcStatus status, string reason)
        {
            if (_s.UcUserId is null || (status.Matches(_s.UcCurrent) && _s.Outbox.Pending is null))
                return;
            var sequence = _s.Outbox.LastSequence + 1;
            var update = new UcUpdate(sequence, _s.UcUserId, _s.UserId, status, reason, now);
            Set(_s with
            {
                Outbox = _s.Outbox with
                {
                    LastSequence = sequence,
                    Pending = update,
                    Failures = 0,
                    RetryAt = null,
                    Unechoed = _s.Outbox.Unechoed.Add(update) is var unechoed && unechoed.Count > UcOutbox.MaxUnechoed
                        ? unechoed.RemoveAt(0)
                        : unechoed,
                    StatusBeforeUpdates = _s.Outbox.Unechoed.IsEmpty ? _s.UcCurrent : _s.Outbox.StatusBeforeUpdates,
                },
                UcCurrent = status,
            });
            _effects.Add(new SendUcUpdate(update));
        }

        public void UcAcknowledged(long sequence)
        {
            var outbox = _s.Outbox;
            if (sequence <= outbox.LastAcknowledged && outbox.Pending?.Sequence != sequence)
                return;
            outbox = outbox with { LastAcknowledged = Math.Max(sequence, outbox.LastAcknowledged) };
            if (outbox.Pending?.Sequence == sequence)
                outbox = outbox with { Pending = null, Failures = 0, RetryAt = null };
            Set(_s with { Outbox = outbox });
        }

        public void UcFailed(long sequence, string reason)
        {
            var outbox = _s.Outbox;
            if (outbox.Pending?.Sequence != sequence)
                return; // superseded by a newer update
            var failures = outbox.Failures + 1;
            Set(_s with { Outbox = outbox with { Failures = failures, RetryAt = now + settings.Backoff(failures) } });
            Note("uc-retry", $"UC update {sequence} failed ({reason}); retry #{failures}");
        }

        /// <summary>
        /// U2 by the length limit: a UC call the UC back end never reports as ended (its node down, the report lost) must
        /// not hold Teams busy for ever. After <see cref="PresenceSettings.MaxUcCallLength"/> it is taken as ended.
        /// </summary>
        private void EndOverlongUcCall()
        {
            if (!_s.UcOnPhone || _s.UcCallStartedAt is not { } started || now < started + settings.MaxUcCallLength)
                return;
            Set(_s with { UcOnPhone = false, UcCallStartedAt = null, UcCallCappedReport = _s.UcReportedAt });
            Note("U2", $"UC call not reported ended after {settings.MaxUcCallLength:g}: taken as ended; our Teams session cleared");
            if (_s.RestorePending && !_s.TeamsCallActive)
                FinishTeamsCall();
        }
    }
}
