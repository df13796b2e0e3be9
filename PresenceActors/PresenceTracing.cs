using System.Diagnostics;

namespace PresenceActors;

/// <summary>
/// Traces of one change across its hops (docs/operator-guide.md, "Traces"): the webhook or internal API request, the
/// user's actor deciding, and the call to a UC front end or to Graph. Between nodes the context rides in the message
/// to the user's actor as a W3C <c>traceparent</c>. Spans are made only while a tracer listens (OTLP configured).
/// </summary>
public static class PresenceTracing
{
    public const string SourceName = "PresenceActors";

    public static readonly ActivitySource Source = new(SourceName);

    /// <summary>The current span as a W3C traceparent, to send along with a message; null when nothing is traced.</summary>
    public static string? CurrentTraceParent =>
        Activity.Current is { IdFormat: ActivityIdFormat.W3C } current ? current.Id : null;

    /// <summary>The context a message carried, or none.</summary>
    public static ActivityContext Parent(string? traceParent) =>
        traceParent is not null && ActivityContext.TryParse(traceParent, null, out var context) ? context : default;
}
