using System.Net;
using System.Net.Sockets;

namespace PresenceActors.Tests.Support;

/// <summary>
/// Stands between the nodes' Akka remoting so that a test can partition the cluster. Each node advertises its relay's
/// port (<c>presence.cluster.publicPort</c>) and listens on its own, so every connection from one node to another passes
/// through the relay of the node it goes to. The relay learns which node connected from the first frame Akka sends (its
/// handshake names the origin's address), and while a node is isolated nothing passes between it and the others in
/// either direction: bytes wait, as behind a firewall that drops packets, and flow on once the partition heals.
/// </summary>
internal sealed class RemotingRelays : IDisposable
{
    private readonly Dictionary<int, TcpListener> _listeners = [];
    private readonly Dictionary<int, int> _targets = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly object _gate = new();
    private readonly HashSet<int> _isolated = [];
    private TaskCompletionSource _healed = NewHealed();
    private long _held;
    private long _unidentified;

    /// <summary>Starts one relay per node: <paramref name="listenPorts"/> maps a node's index to the port its remoting listens on.</summary>
    public RemotingRelays(IReadOnlyDictionary<int, int> listenPorts)
    {
        foreach (var (node, port) in listenPorts)
        {
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            _listeners[node] = listener;
            _targets[node] = port;
        }

        foreach (var node in _listeners.Keys)
            _ = AcceptAsync(node);
    }

    /// <summary>The port other nodes reach <paramref name="node"/> at.</summary>
    public int PortOf(int node) => ((IPEndPoint)_listeners[node].LocalEndpoint).Port;

    /// <summary>Chunks of bytes held back at a cut so far: the proof that the partition was real.</summary>
    public long Held => Interlocked.Read(ref _held);

    /// <summary>Connections whose origin the relay could not tell (each is cut whenever any node is isolated).</summary>
    public long Unidentified => Interlocked.Read(ref _unidentified);

    /// <summary>Cuts <paramref name="node"/> off from every other node, both ways, until <see cref="Heal"/>.</summary>
    public void Isolate(int node)
    {
        lock (_gate)
            _isolated.Add(node);
    }

    public void Heal()
    {
        TaskCompletionSource healed;
        lock (_gate)
        {
            _isolated.Clear();
            (healed, _healed) = (_healed, NewHealed());
        }

        healed.TrySetResult();
    }

    private static TaskCompletionSource NewHealed() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes at once when <paramref name="from"/> and <paramref name="to"/> are on the same side, otherwise once healed.</summary>
    private Task PassableAsync(int? from, int to)
    {
        lock (_gate)
        {
            // A connection whose origin is unknown is cut whenever either end might be isolated.
            var cut = from is { } f ? _isolated.Contains(f) != _isolated.Contains(to) : _isolated.Count > 0;
            return cut ? _healed.Task : Task.CompletedTask;
        }
    }

    private async Task AcceptAsync(int node)
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listeners[node].AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }

            _ = RelayAsync(client, node);
        }
    }

    private async Task RelayAsync(TcpClient client, int to)
    {
        using (client)
        using (var server = new TcpClient())
        {
            try
            {
                var inbound = client.GetStream();
                var (first, from) = await HandshakeAsync(inbound);
                await PassableAsync(from, to).WaitAsync(_stop.Token);
                await server.ConnectAsync(IPAddress.Loopback, _targets[to], _stop.Token);
                var outbound = server.GetStream();
                await outbound.WriteAsync(first, _stop.Token);
                await Task.WhenAny(PumpAsync(inbound, outbound, from, to), PumpAsync(outbound, inbound, from, to));
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
            {
                // A node went away or the relays stopped: the connection ends, as it would on the network.
            }
        }
    }

    /// <summary>Copies one direction until either end closes; an end that goes away ends the copy, not the relay.</summary>
    private async Task PumpAsync(NetworkStream source, NetworkStream target, int? from, int to)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            int read;
            while ((read = await source.ReadAsync(buffer, _stop.Token)) > 0)
            {
                var passable = PassableAsync(from, to);
                if (!passable.IsCompleted)
                {
                    Interlocked.Increment(ref _held);
                    await passable.WaitAsync(_stop.Token);
                }

                await target.WriteAsync(buffer.AsMemory(0, read), _stop.Token);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
    }

    /// <summary>
    /// Reads the connecting node's first frame (a 4-byte length, little-endian as Akka.NET's DotNetty transport writes it
    /// by default, then Akka's Associate message) and finds
    /// which node's advertised port it names: the origin's AddressData carries it as protobuf field 3 (tag 0x18, varint).
    /// </summary>
    private async Task<(byte[] First, int? From)> HandshakeAsync(NetworkStream inbound)
    {
        var header = new byte[4];
        await inbound.ReadExactlyAsync(header, _stop.Token);
        var length = header[0] | (header[1] << 8) | (header[2] << 16) | (header[3] << 24);
        if (length is < 0 or > 64 * 1024)
        {
            Interlocked.Increment(ref _unidentified);
            return (header, null);
        }
        var frame = new byte[4 + length];
        header.CopyTo(frame, 0);
        await inbound.ReadExactlyAsync(frame.AsMemory(4), _stop.Token);
        var from = _listeners.Keys.Where(n => Contains(frame, PortField(PortOf(n)))).Cast<int?>().SingleOrDefault();
        if (from is null)
            Interlocked.Increment(ref _unidentified);
        return (frame, from);
    }

    private static byte[] PortField(int port)
    {
        var bytes = new List<byte> { 0x18 };
        var value = (uint)port;
        while (value >= 0x80)
        {
            bytes.Add((byte)(value | 0x80));
            value >>= 7;
        }

        bytes.Add((byte)value);
        return [.. bytes];
    }

    private static bool Contains(byte[] haystack, byte[] needle) => haystack.AsSpan().IndexOf(needle) >= 0;

    public void Dispose()
    {
        _stop.Cancel();
        foreach (var listener in _listeners.Values)
            listener.Stop();
        Heal();
    }
}
