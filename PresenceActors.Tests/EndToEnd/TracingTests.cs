using System.Collections;
using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Trace;
using PresenceActors.Host;
using PresenceActors.Simulators.Graph;
using PresenceActors.Tests.Support;
using Xunit;

namespace PresenceActors.Tests.EndToEnd;

/// <summary>
/// One trace per change across its hops, with the service's own tracing setup and an in-memory exporter: a Teams call
/// from the webhook request through the user's actor to the UC front-end call, and a UC call from the internal API
/// request through the actor to Graph's setPresence.
/// </summary>
public class TracingTests
{
    [Fact]
    public async Task A_teams_change_and_a_uc_report_each_make_one_trace_across_their_hops()
    {
        var spans = new Spans();
        await using var loop = await Loop.StartAsync(configure: b =>
            b.Services.AddOpenTelemetry().WithTracing(tracing => TracingSetup.Instrument(tracing).AddInMemoryExporter(spans)));
        var users = await loop.AddUsersAsync(2, prefix: "trace");
        // The pool reads every member of a new subscription once it exists: wait until that read is handed on, or a change
        // made meanwhile could reach the actor through the read (no trace) before its notification does. (Each user is
        // in the last read once at least: the reads so far cover at least as many users as there are.)
        await loop.ReadsHandedOnAsync(users.Count);

        // Teams → UC: POST /graph/listen → presence.decide (T1) → uc.deliver → the HTTP call to the front end.
        var (ucUser, teams) = users[0];
        loop.Graph.Tenant.SetClient(teams.Id, TeamsClientState.InACall);
        await Eventually.TrueAsync(() => loop.Uc.User(ucUser)!.Status == "Busy", what: "UC Busy");
        var t1 = await SpanAsync(spans, s => s.OperationName == "presence.decide" && Tag(s, "presence.user") == teams.Id && Tag(s, "presence.rule") == "T1", "the T1 decision's span");
        await Eventually.TrueAsync(() => spans.Snapshot().Any(s => s.TraceId == t1.TraceId && s.OperationName == "uc.deliver"), what: "the delivery's span");
        await Eventually.TrueAsync(() => Trace(spans, t1).Any(IsFrontEndCall(loop)), what: "the front-end call's span");
        var teamsTrace = Trace(spans, t1);
        var webhook = One(teamsTrace, s => s.Kind == ActivityKind.Server);
        Assert.Equal("/graph/listen", Tag(webhook, "url.path"));
        Assert.Equal(webhook.SpanId, t1.ParentSpanId);
        // A delivery tried again (a front end slow to answer) is another uc.deliver under the same decision.
        var deliveries = teamsTrace.Where(s => s.OperationName == "uc.deliver").ToList();
        Assert.All(deliveries, deliver =>
        {
            Assert.Equal(t1.SpanId, deliver.ParentSpanId);
            Assert.Equal(ucUser, Tag(deliver, "presence.uc_user"));
        });
        Assert.All(teamsTrace.Where(IsFrontEndCall(loop)), call => Assert.Contains(deliveries, d => d.SpanId == call.ParentSpanId));
        // The trace is this change's alone: no other user's decision joined it.
        Assert.All(teamsTrace.Where(s => s.OperationName == "presence.decide"), s => Assert.Equal(teams.Id, Tag(s, "presence.user")));

        // UC → Teams: POST /api/v1/users/{id}/presence → presence.decide (U1) → Graph setPresence.
        var (ucCaller, teamsCaller) = users[1];
        await loop.Uc.SetPhoneAsync(ucCaller, true);
        await Eventually.TrueAsync(() => loop.Graph.Tenant.FindUser(teamsCaller.Id)!.Sessions.ContainsKey(Loop.ClientId), what: "our Teams session set");
        var u1 = await SpanAsync(spans, s => s.OperationName == "presence.decide" && Tag(s, "presence.user") == teamsCaller.Id && Tag(s, "presence.rule") == "U1", "the U1 decision's span");
        await Eventually.TrueAsync(() => Trace(spans, u1).Any(IsSetPresence), what: "the setPresence call's span");
        var ucTrace = Trace(spans, u1);
        var api = One(ucTrace, s => s.Kind == ActivityKind.Server);
        Assert.Equal($"/api/v1/users/{ucCaller}/presence", Tag(api, "url.path"));
        Assert.Equal(api.SpanId, u1.ParentSpanId);
        Assert.Contains(ucTrace, IsSetPresence);
        Assert.NotEqual(t1.TraceId, u1.TraceId);
    }

    [Fact]
    public void A_traceparent_a_message_carried_becomes_the_parent_of_the_actors_span()
    {
        Assert.Equal("0af7651916cd43dd8448eb211c80319c", PresenceTracing.Parent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01").TraceId.ToHexString());
        Assert.Equal("b7ad6b7169203331", PresenceTracing.Parent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01").SpanId.ToHexString());
        Assert.Equal(default, PresenceTracing.Parent(null));
        Assert.Equal(default, PresenceTracing.Parent("not-a-traceparent"));
    }

    private static Func<Activity, bool> IsFrontEndCall(Loop loop) => s =>
        s.Kind == ActivityKind.Client && loop.Uc.FrontEndUrls.Any(url => (Tag(s, "url.full") ?? "").StartsWith(url.GetLeftPart(UriPartial.Authority), StringComparison.Ordinal));

    private static bool IsSetPresence(Activity s) =>
        s.Kind == ActivityKind.Client && (Tag(s, "url.full") ?? "").Contains("/presence/setPresence", StringComparison.Ordinal);

    private static List<Activity> Trace(Spans spans, Activity member) => spans.Snapshot().Where(s => s.TraceId == member.TraceId).ToList();

    private static Activity One(List<Activity> trace, Func<Activity, bool> match)
    {
        var found = trace.Where(match).ToList();
        Assert.True(found.Count == 1, $"{found.Count} matching spans in the trace:\n" + string.Join("\n", trace.Select(s => $"{s.OperationName} {s.Kind} {Tag(s, "url.full") ?? Tag(s, "url.path")}")));
        return found[0];
    }

    private static string? Tag(Activity span, string name) => span.GetTagItem(name)?.ToString();

    private static async Task<Activity> SpanAsync(Spans spans, Func<Activity, bool> match, string what)
    {
        await Eventually.TrueAsync(() => spans.Snapshot().Any(match), what: what,
            state: () => string.Join("\n", spans.Snapshot().Select(s => $"{s.OperationName} {s.Kind} {s.TraceId} {Tag(s, "url.full") ?? Tag(s, "url.path")}")));
        return spans.Snapshot().First(match);
    }

    /// <summary>The exporter's list, safe to read while spans end on other threads.</summary>
    private sealed class Spans : ICollection<Activity>
    {
        private readonly List<Activity> _items = [];

        public int Count
        {
            get
            {
                lock (_items)
                    return _items.Count;
            }
        }

        public bool IsReadOnly => false;

        public List<Activity> Snapshot()
        {
            lock (_items)
                return [.. _items];
        }

        public void Add(Activity item)
        {
            lock (_items)
                _items.Add(item);
        }

        public void Clear()
        {
            lock (_items)
                _items.Clear();
        }

        public bool Contains(Activity item) => Snapshot().Contains(item);

        public void CopyTo(Activity[] array, int arrayIndex) => Snapshot().CopyTo(array, arrayIndex);

        public bool Remove(Activity item)
        {
            lock (_items)
                return _items.Remove(item);
        }

        public IEnumerator<Activity> GetEnumerator() => Snapshot().GetEnumerator();

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
