using System.Threading.Channels;
using Akka.Actor;

namespace PresenceActors.Host.Admin;

/// <summary>
/// A server-sent events stream fed by an actor for as long as the client listens (`cluster tail`, the status page's
/// feed): the actor writes lines into a bounded channel (the oldest dropped if the client is slow) and is stopped when the
/// client goes away, or when the node stops: an open status page must not hold up Ctrl+C or SIGTERM.
/// </summary>
public static class ServerSentEvents
{
    public static async Task StreamAsync(HttpContext context, ActorSystem system, Func<ChannelWriter<string>, Props> listener)
    {
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        var lines = Channel.CreateBounded<string>(new BoundedChannelOptions(1000) { FullMode = BoundedChannelFullMode.DropOldest });
        var actor = system.ActorOf(listener(lines.Writer));
        using var until = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted,
            context.RequestServices.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping);
        try
        {
            await context.Response.WriteAsync(": connected\n\n", until.Token);
            await context.Response.Body.FlushAsync(until.Token);
            await foreach (var line in lines.Reader.ReadAllAsync(until.Token))
            {
                await context.Response.WriteAsync($"data: {line}\n\n", until.Token);
                await context.Response.Body.FlushAsync(until.Token);
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            system.Stop(actor);
        }
    }
}
