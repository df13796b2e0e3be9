using System.Diagnostics;
using System.Text.Json;

namespace PresenceActors.Benchmarks;

/// <summary>
/// The B1 load from wrk, a separate process (Debian's <c>wrk</c> package): 2 threads, the given connections, HTTP/1.1 over
/// TLS. A Lua script posts the prepared bodies in turn (each thread its own share, cycling when it runs out) and prints
/// wrk's summary as one JSON line.
/// </summary>
internal static class Wrk
{
    /// <summary>wrk's path when it is on the PATH, or null.</summary>
    public static string? Find() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(folder => Path.Combine(folder, "wrk"))
            .FirstOrDefault(File.Exists);

    /// <summary>wrk's own version line, to say which generator produced the figures.</summary>
    public static string Version(string wrk)
    {
        using var process = Process.Start(new ProcessStartInfo(wrk, "--version") { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var text = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        return text.Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault()?.Split(" Copyright")[0].Trim() ?? "wrk";
    }

    private const string Script = """
        -- Posts the bodies of the file named after "--" one after another; thread k of n takes lines k, k+n, ...
        local threads, counter = {}, 0
        function setup(thread)
          thread:set("id", counter)
          counter = counter + 1
          table.insert(threads, thread)
        end
        local bodies, cursor = {}, 1
        function init(args)
          local count = tonumber(args[2])
          local line = 0
          for body in io.lines(args[1]) do
            if line % count == id then bodies[#bodies + 1] = body end
            line = line + 1
          end
          wrk.method = "POST"
          wrk.headers["Content-Type"] = "application/json"
        end
        function request()
          local body = bodies[cursor]
          cursor = cursor % #bodies + 1
          return wrk.format(nil, nil, nil, body)
        end
        function done(summary, latency, requests)
          local e = summary.errors
          io.write(string.format('{"requests":%d,"durationMicroseconds":%d,"statusErrors":%d,"socketErrors":%d}\n',
            summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout))
        end
        """;

    public static async Task<(double Rps, long Errors)> LoadAsync(string wrk, Uri url, List<byte[]> bodies, int seconds, int connections)
    {
        const int threads = 2;
        var folder = Directory.CreateTempSubdirectory("presence-wrk-");
        try
        {
            var script = Path.Combine(folder.FullName, "post.lua");
            var data = Path.Combine(folder.FullName, "bodies.ndjson");
            await File.WriteAllTextAsync(script, Script);
            await using (var file = File.Create(data))
            {
                foreach (var body in bodies)
                {
                    await file.WriteAsync(body);
                    file.WriteByte((byte)'\n');
                }
            }

            var start = new ProcessStartInfo(wrk)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            foreach (var arg in new[] { "-t", $"{threads}", "-c", $"{connections}", "-d", $"{seconds}s", "--timeout", "10s", "-s", script, url.ToString(), "--", data, $"{threads}" })
                start.ArgumentList.Add(arg);
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var errors = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            var summaryLine = (await output).Split('\n').LastOrDefault(l => l.StartsWith("{\"requests\"", StringComparison.Ordinal))
                              ?? throw new InvalidOperationException($"wrk printed no summary (exit {process.ExitCode}): {await errors}{await output}");
            var summary = JsonDocument.Parse(summaryLine).RootElement;
            var requests = summary.GetProperty("requests").GetInt64();
            var statusErrors = summary.GetProperty("statusErrors").GetInt64();
            var duration = summary.GetProperty("durationMicroseconds").GetInt64() / 1e6;
            // Only 2xx answers count: a 503 is a request the gateway did not take.
            return ((requests - statusErrors) / duration, statusErrors + summary.GetProperty("socketErrors").GetInt64());
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }
}
