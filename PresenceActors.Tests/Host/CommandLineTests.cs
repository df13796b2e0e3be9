using System.Diagnostics;
using System.Runtime.CompilerServices;
using Xunit;

namespace PresenceActors.Tests.Host;

/// <summary>The README's commands as a person types them: <c>dotnet run --project PresenceActors.Host -- …</c>.</summary>
public class CommandLineTests
{
    private static string Root([CallerFilePath] string here = "") => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", ".."));

    [Fact]
    public async Task A_relative_config_path_means_the_folder_the_command_was_typed_in()
    {
        var folder = Directory.CreateTempSubdirectory("presence-cwd-").FullName;
        try
        {
            // A file only this folder has: found, read and checked (its problems named), not reported missing.
            await File.WriteAllTextAsync(Path.Combine(folder, "here.properties"), "presence.webhook.port = not-a-port\n");
            // The configuration the tests were built in (Debug, or what `./test.sh -c Release` asked for): the Host is built too.
            var configuration = Path.GetFileName(Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)))!;
            var start = new ProcessStartInfo("dotnet", ["run", "--no-build", "-c", configuration, "--project", Path.Combine(Root(), "PresenceActors.Host"), "--",
                "config", "check", "--config", "here.properties"])
            {
                WorkingDirectory = folder,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var errors = process.StandardError.ReadToEndAsync();
            using (var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2)))
            {
                try
                {
                    await process.WaitForExitAsync(timeout.Token);
                }
                catch (OperationCanceledException)
                {
                    process.Kill(entireProcessTree: true);
                    Assert.Fail("dotnet run did not finish within 2 minutes");
                }
            }

            var text = await output + await errors;

            Assert.True(process.ExitCode == 2, $"exit code {process.ExitCode} ({configuration}): {text}");
            Assert.DoesNotContain("does not exist", text);
            Assert.Contains("presence.webhook.port", text);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
