using System.Net;
using System.Net.Sockets;

namespace PresenceActors.Tests.Support;

/// <summary>
/// Loopback ports for listeners a test starts later (a child process, a Kestrel host): never one handed out before, and
/// taken outside the kernel's ephemeral range. A port asked of the kernel (bind to 0, release, use) comes from that
/// range, where every outgoing connection of the test run also takes its local port: between the release and the
/// listener's bind, a connection or another test's port-0 listener could take it ("address already in use").
/// </summary>
public static class TestPorts
{
    private static readonly (int First, int Last)? Range = ChooseRange();
    private static readonly HashSet<int> HandedOut = [];
    private static int _next = Range is { } r ? r.First + Random.Shared.Next(r.Last - r.First) : 0;

    /// <summary>A port free on 127.0.0.1 now, not handed out before in this run.</summary>
    public static int Next()
    {
        if (Range is not { } range)
            return FromKernel();
        var span = range.Last - range.First + 1;
        for (var tried = 0; tried < span; tried++)
        {
            var port = range.First + (int)((uint)(Interlocked.Increment(ref _next) - range.First) % (uint)span);
            if (IsFree(port))
                return port;
        }

        throw new InvalidOperationException($"No free loopback port between {range.First} and {range.Last}.");
    }

    /// <summary>
    /// <paramref name="count"/> consecutive ports, all free now and none handed out before (for a program that takes
    /// its ports as a first one and the ones after it).
    /// </summary>
    public static int Block(int count)
    {
        var (first, last) = Range ?? (20_000, 29_999);
        var span = last - first + 1;
        for (var tried = 0; tried < span; tried++)
        {
            var end = Interlocked.Add(ref _next, count);
            var start = first + (int)((uint)(end - count + 1 - first) % (uint)span);
            if (start + count - 1 <= last && Enumerable.Range(start, count).All(IsFree))
                return start;
        }

        throw new InvalidOperationException($"No {count} consecutive free loopback ports between {first} and {last}.");
    }

    /// <summary>Where the ephemeral range leaves no room: a port from the kernel, at least never one handed out before.</summary>
    private static int FromKernel()
    {
        while (true)
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            lock (HandedOut)
            {
                if (HandedOut.Add(port))
                    return port;
            }
        }
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>
    /// The larger stretch between 10000 and 65535 outside /proc/sys/net/ipv4/ip_local_port_range (Linux's default range
    /// 32768–60999 leaves 10000–32767); 20000–29999 where that file is missing; none where it leaves fewer than 1,000.
    /// </summary>
    private static (int First, int Last)? ChooseRange()
    {
        const string file = "/proc/sys/net/ipv4/ip_local_port_range";
        if (!File.Exists(file))
            return (20_000, 29_999);
        var parts = File.ReadAllText(file).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        var low = int.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture);
        var high = int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
        var below = (First: 10_000, Last: low - 1);
        var above = (First: high + 1, Last: 65_535);
        var best = below.Last - below.First >= above.Last - above.First ? below : above;
        return best.Last - best.First < 1_000 ? null : best;
    }
}
