using System.Runtime.CompilerServices;

namespace PresenceActors.Tests.Support;

/// <summary>The repository's root folder (where docker-compose.yml and deploy/ are), found from this file's path at build time.</summary>
internal static class RepositoryRoot
{
    public static string Path => Of();

    private static string Of([CallerFilePath] string here = "") =>
        System.IO.Path.GetFullPath(System.IO.Path.Combine(System.IO.Path.GetDirectoryName(here)!, "..", ".."));
}
