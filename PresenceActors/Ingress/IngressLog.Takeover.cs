using Microsoft.Extensions.Logging;

namespace PresenceActors.Ingress;

/// <summary>The ingress log's hold on its entries: renewing it, and taking over those a stopped node left.</summary>
public sealed partial class IngressLog
{
    /// <summary>Renews this node's hold and takes over what a stopped node left (in a cluster; a single node has nothing to).</summary>
    private async Task LeaseLoopAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            await Delay(_options.RenewEvery, stopping);
            try
            {
                await _store.RenewAsync(stopping);
                var room = _options.MaxBacklog - Backlog;
                if (room > 0)
                    await ClaimAsync(own: false, stopping, Math.Min(room, 1_000));
            }
            catch (Exception e) when (!stopping.IsCancellationRequested)
            {
                _log.LogWarning("ingress-lease-failed: {Message}", e.Message);
            }
        }
    }

    private async Task ClaimAsync(bool own, CancellationToken stopping, int limit = int.MaxValue)
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                var entries = await _store.ClaimAsync(own, limit, stopping);
                var fresh = 0;
                foreach (var entry in entries)
                {
                    lock (_gate)
                    {
                        if (!_held.Add(entry.Id))
                            continue; // in memory already (renewed along with the rest)
                    }

                    Interlocked.Add(ref _backlog, entry.Items);
                    _work.Writer.TryWrite(entry);
                    fresh++;
                }

                if (fresh > 0)
                {
                    if (!own)
                        Interlocked.Add(ref _takenOver, fresh);
                    if (!own)
                        _takenOverCounter.Add(fresh);
                    _log.LogInformation(own ? "ingress-resumed entries={Count}: left by this node's previous run" : "ingress-taken-over entries={Count}: left by a node that stopped",
                        fresh);
                }

                return;
            }
            catch (Exception e) when (!stopping.IsCancellationRequested)
            {
                _log.LogWarning("ingress-claim-failed: {Message}", e.Message);
                if (!own)
                    return;
                await Delay(TimeSpan.FromSeconds(1), stopping);
            }
        }
    }
}
