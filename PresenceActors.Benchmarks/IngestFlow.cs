using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using PresenceActors.Ingress;
using PresenceActors.Webhooks;

namespace PresenceActors.Benchmarks;

/// <summary>The webhook's answer times at a rate offered whatever the answers (Graph does not wait for us).</summary>
internal sealed record AnswerLatency(int OfferedItemsPerSecond, int Seconds, double P50, double P99, double Max, long Accepted, long Refused, long Errors,
    double DrainSeconds);

/// <summary>Items acknowledged and confirmed by the users' actors per second at saturation, against the RSA ceiling.</summary>
internal sealed record Sustained(double ConfirmedPerSecond, double AcknowledgedPerSecond, int BacklogAtStart, int BacklogAtEnd, int MaxBacklog,
    double RsaCeiling, double Ratio);

/// <summary>
/// B1 of the persist-first webhook (docs/benchmarks.md): (a) 202 latency at 1,000 and 3,000 items/s offered open-loop,
/// (b) what is confirmed per second at saturation with a bounded backlog, against the machine's RSA ceiling
/// (cores ÷ one data key's unwrap time).
/// </summary>
internal static class IngestFlow
{
    private const int Batch = 10;

    public static Task<AnswerLatency> AtRateAsync(Rig rig, List<(string UcUserId, string TeamsId)> users, int itemsPerSecond, int seconds, ref long sequence)
    {
        var subscription = rig.Graph.Tenant.SubscriptionsWatching(users[0].TeamsId).Single();
        var token = rig.Graph.Delivery.ValidationToken(Rig.ClientId);
        var postsPerSecond = itemsPerSecond / (double)Batch;
        var bodies = Ingest.BuildBodies(rig, users, subscription, token, Batch, (int)Math.Ceiling(postsPerSecond * seconds) + 1, ref sequence);
        return OfferAsync(rig, bodies, itemsPerSecond, postsPerSecond, seconds);
    }

    private static async Task<AnswerLatency> OfferAsync(Rig rig, List<byte[]> bodies, int itemsPerSecond, double postsPerSecond, int seconds)
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
        var drain = await DrainAsync(rig, TimeSpan.FromMinutes(3));
        var sorted = latencies.OrderBy(l => l).ToArray();
        return new AnswerLatency(itemsPerSecond, seconds, Percentile(sorted, 0.50), Percentile(sorted, 0.99), sorted.Length > 0 ? sorted[^1] : double.NaN,
            accepted * Batch, refused * Batch, errors, drain.TotalSeconds);
    }

    /// <summary>
    /// Saturation: <paramref name="connections"/> senders as fast as they are answered for <paramref name="seconds"/>;
    /// what the actors confirmed per second in that time is what the node sustains (the backlog is bounded, so anything
    /// offered beyond it is refused, not stored).
    /// </summary>
    public static Task<Sustained> SustainedAsync(Rig rig, List<(string UcUserId, string TeamsId)> users, int seconds, int connections, double rsaMicroseconds,
        ref long sequence)
    {
        var subscription = rig.Graph.Tenant.SubscriptionsWatching(users[0].TeamsId).Single();
        var token = rig.Graph.Delivery.ValidationToken(Rig.ClientId);
        var bodies = Ingest.BuildBodies(rig, users, subscription, token, Batch, seconds * 1_200, ref sequence);
        return SaturateAsync(rig, bodies, seconds, connections, rsaMicroseconds);
    }

    private static async Task<Sustained> SaturateAsync(Rig rig, List<byte[]> bodies, int seconds, int connections, double rsaMicroseconds)
    {
        var ingress = rig.Service!.Services.GetRequiredService<IngressLog>();
        var metrics = rig.Service.Services.GetRequiredService<WebhookMetrics>();
        var options = rig.Service.Services.GetRequiredService<IngressOptions>();
        var url = new Uri($"https://127.0.0.1:{rig.WebhookPort}/graph/listen");
        var (backlogStart, confirmedStart, appendedStart) = (ingress.Backlog, metrics.Accepted, ingress.Appended);
        var clock = Stopwatch.StartNew();
        await Ingest.LoadAsync(url, bodies, seconds, connections);
        var elapsed = clock.Elapsed.TotalSeconds;
        var (backlogEnd, confirmedEnd, appendedEnd) = (ingress.Backlog, metrics.Accepted, ingress.Appended);
        await DrainAsync(rig, TimeSpan.FromMinutes(3));
        var ceiling = Environment.ProcessorCount * 1e6 / rsaMicroseconds;
        var confirmed = (confirmedEnd - confirmedStart) / elapsed;
        return new Sustained(confirmed, (appendedEnd - appendedStart) / elapsed, backlogStart, backlogEnd, options.MaxBacklog, ceiling, confirmed / ceiling);
    }

    /// <summary>Waits until the ingress backlog is empty; how long that took.</summary>
    private static async Task<TimeSpan> DrainAsync(Rig rig, TimeSpan limit)
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
