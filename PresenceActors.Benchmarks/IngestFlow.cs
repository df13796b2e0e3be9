using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using PresenceActors.Ingress;
using PresenceActors.Webhooks;

namespace PresenceActors.Benchmarks;

/// <summary>The webhook's answer times at a rate offered whatever the answers (Graph does not wait for us).</summary>
internal sealed record AnswerLatency(int OfferedItemsPerSecond, int Seconds, double P50, double P99, double Max, long Accepted, long Refused, long Errors,
    double DrainSeconds);

/// <summary>Items acknowledged and confirmed by the users' actors per second with a backlog that does not grow, against the RSA ceiling.</summary>
internal sealed record Sustained(double ConfirmedPerSecond, int OfferedPerSecond, double DrainPerSecond, int MaxBacklog, double RsaCeiling, double Ratio,
    List<RateTry> Tries);

/// <summary>One offered rate of the sustained search and whether the node kept up with it.</summary>
internal sealed record RateTry(int Offered, double ConfirmedPerSecond, int BacklogAtStart, int BacklogAtEnd, long Refused, bool KeptUp);

/// <summary>The notifications' sequence numbers across a run (each body is used once).</summary>
internal sealed class SequenceBox(long start)
{
    public long Value = start;
}

/// <summary>
/// B1 of the persist-first webhook (docs/benchmarks.md): (a) 202 latency at 1,000 and 3,000 items/s offered open-loop,
/// (b) the highest rate acknowledged and confirmed with a backlog that does not grow, against the machine's RSA ceiling
/// (cores ÷ one data key's unwrap time).
/// </summary>
internal static class IngestFlow
{
    private const int Batch = 10;

    public static async Task<AnswerLatency> AtRateAsync(Rig rig, List<(string UcUserId, string TeamsId)> users, int itemsPerSecond, int seconds, SequenceBox sequence)
    {
        var subscription = rig.Graph.Tenant.SubscriptionsWatching(users[0].TeamsId).Single();
        var token = rig.Graph.Delivery.ValidationToken(Rig.ClientId);
        var postsPerSecond = itemsPerSecond / (double)Batch;
        var bodies = Ingest.BuildBodies(rig, users, subscription, token, Batch, (int)Math.Ceiling(postsPerSecond * seconds) + 1, ref sequence.Value);
        await DrainAsync(rig, TimeSpan.FromMinutes(5)); // measured from an empty log
        return await OfferAsync(rig, bodies, itemsPerSecond, postsPerSecond, seconds, drainAfter: true);
    }

    private static async Task<AnswerLatency> OfferAsync(Rig rig, List<byte[]> bodies, int itemsPerSecond, double postsPerSecond, int seconds, bool drainAfter)
    {
        var url = new Uri($"https://127.0.0.1:{rig.WebhookPort}/graph/listen");
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 256, SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true } })
        {
            Timeout = TimeSpan.FromSeconds(10),
        };
        var latencies = new ConcurrentBag<double>();
        long accepted = 0, refused = 0, errors = 0;
        var inFlight = new List<Task>();
        var clock = Stopwatch.StartNew();
        var sent = 0;
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(5));
        while (clock.Elapsed.TotalSeconds < seconds && await timer.WaitForNextTickAsync())
        {
            // Open loop: whatever is due by now goes out, answered or not.
            var due = Math.Min(bodies.Count, (int)(clock.Elapsed.TotalSeconds * postsPerSecond));
            for (; sent < due; sent++)
            {
                var body = bodies[sent];
                inFlight.Add(Task.Run(async () =>
                {
                    using var content = new ByteArrayContent(body);
                    content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
                    var started = Stopwatch.GetTimestamp();
                    try
                    {
                        using var response = await http.PostAsync(url, content);
                        latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                        if (response.StatusCode == HttpStatusCode.Accepted)
                            Interlocked.Increment(ref accepted);
                        else if (response.StatusCode == HttpStatusCode.ServiceUnavailable)
                            Interlocked.Increment(ref refused);
                        else
                            Interlocked.Increment(ref errors);
                    }
                    catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                    {
                        latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                        Interlocked.Increment(ref errors);
                    }
                }));
            }
        }

        await Task.WhenAll(inFlight);
        var drain = drainAfter ? await DrainAsync(rig, TimeSpan.FromMinutes(3)) : TimeSpan.Zero;
        var sorted = latencies.OrderBy(l => l).ToArray();
        return new AnswerLatency(itemsPerSecond, seconds, Percentile(sorted, 0.50), Percentile(sorted, 0.99), sorted.Length > 0 ? sorted[^1] : double.NaN,
            accepted * Batch, refused * Batch, errors, drain.TotalSeconds);
    }

    /// <summary>
    /// The highest offered rate the node keeps up with: open-loop load at a rate for <paramref name="seconds"/>, kept when
    /// every item was answered 202, the actors confirmed what was offered (within 5 %) and the backlog at the end holds
    /// less than a second of load. The first rate tried is what the node confirms per second draining a backlog with no
    /// load (its processing alone); after each failure a little under what the actors confirmed while falling behind,
    /// between 85 % and 95 % of the rate before, up to eight times.
    /// </summary>
    public static async Task<Sustained> SustainedAsync(Rig rig, List<(string UcUserId, string TeamsId)> users, int seconds, double rsaMicroseconds,
        SequenceBox sequence)
    {
        var subscription = rig.Graph.Tenant.SubscriptionsWatching(users[0].TeamsId).Single();
        var token = rig.Graph.Delivery.ValidationToken(Rig.ClientId);
        var ingress = rig.Service!.Services.GetRequiredService<IngressLog>();
        var metrics = rig.Service.Services.GetRequiredService<WebhookMetrics>();
        var options = rig.Service.Services.GetRequiredService<IngressOptions>();
        var ceiling = Environment.ProcessorCount * 1e6 / rsaMicroseconds;
        var url = new Uri($"https://127.0.0.1:{rig.WebhookPort}/graph/listen");

        // Processing alone: a backlog taken in as fast as the webhook answers, then drained with no load.
        var fill = Ingest.BuildBodies(rig, users, subscription, token, Batch, 2_000, ref sequence.Value);
        await Ingest.LoadAsync(url, fill, 60, 32);
        var confirmedBefore = metrics.Accepted;
        Console.Error.WriteLine($"B1: draining a backlog of {ingress.Backlog:N0} items with no load");
        var drain = await DrainAsync(rig, TimeSpan.FromMinutes(5));
        if (ingress.Backlog > 0 || drain < TimeSpan.FromSeconds(1))
            throw new InvalidOperationException($"B1: the fill left {ingress.Backlog:N0} items after {drain.TotalSeconds:0.0} s of draining; no drain rate to start from");
        var drainRate = (metrics.Accepted - confirmedBefore) / drain.TotalSeconds;
        Console.Error.WriteLine($"B1: a backlog drained at {drainRate:N0} items/s with no load");

        var rate = drainRate;
        var tries = new List<RateTry>();
        for (var attempt = 0; attempt < 8 && rate >= Batch; attempt++)
        {
            var offered = (int)(rate / Batch) * Batch;
            var bodies = Ingest.BuildBodies(rig, users, subscription, token, Batch, offered / Batch * seconds + 1, ref sequence.Value);
            var (backlogStart, confirmedStart) = (ingress.Backlog, metrics.Accepted);
            var window = System.Diagnostics.Stopwatch.StartNew(); // the offered seconds plus the last answers' wait
            var answers = await OfferAsync(rig, bodies, offered, offered / (double)Batch, seconds, drainAfter: false);
            var (backlogEnd, confirmedEnd) = (ingress.Backlog, metrics.Accepted);
            var confirmed = (confirmedEnd - confirmedStart) / window.Elapsed.TotalSeconds;
            var kept = answers.Refused == 0 && answers.Errors == 0 && confirmed >= 0.95 * offered && backlogEnd < offered;
            tries.Add(new RateTry(offered, confirmed, backlogStart, backlogEnd, answers.Refused, kept));
            Console.Error.WriteLine($"B1: {offered:N0} items/s offered: {confirmed:N0} confirmed/s, backlog {backlogStart:N0} → {backlogEnd:N0}, {answers.Refused:N0} refused: {(kept ? "kept up" : "fell behind")}");
            await DrainAsync(rig, TimeSpan.FromMinutes(5));
            if (kept)
                break;
            // What the actors confirmed while falling behind is the best estimate of what they can take: a little under
            // it next, rather than a fixed step that skips past the answer; at least 5 % and at most 15 % down, so that a
            // try failing on its backlog alone (confirmed close to the offer) still moves on.
            rate = Math.Min(0.95 * offered, Math.Max(0.85 * offered, 0.97 * confirmed));
        }

        var best = tries.LastOrDefault(t => t.KeptUp);
        var sustained = best?.ConfirmedPerSecond ?? 0;
        return new Sustained(sustained, best?.Offered ?? 0, drainRate, options.MaxBacklog, ceiling, sustained / ceiling, tries);
    }

    /// <summary>Waits until the ingress backlog is empty; how long that took.</summary>
    public static async Task<TimeSpan> DrainAsync(Rig rig, TimeSpan limit)
    {
        var ingress = rig.Service!.Services.GetRequiredService<IngressLog>();
        var clock = Stopwatch.StartNew();
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        while (ingress.Backlog > 0 && clock.Elapsed < limit && await timer.WaitForNextTickAsync())
        {
        }

        return clock.Elapsed;
    }

    private static double Percentile(double[] sorted, double p) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];
}
