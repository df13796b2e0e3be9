using PresenceActors.Presence;
using PresenceActors.Users;

namespace PresenceActors.Host;

public static class PresencePorts
{
    /// <summary>
    /// The ports user actors talk through. Until the Graph gateway and the UC front-end emitter are configured, every
    /// call fails with a message naming what is missing: the actors keep their effects pending and retry with back-off,
    /// so nothing is lost once the real ports are wired.
    /// </summary>
    public static IServiceCollection AddPresencePorts(this IServiceCollection services)
    {
        services.AddSingleton<IUcFrontEndPort, NotConnectedFrontEnd>();
        services.AddSingleton<ITeamsPresencePort, NotConnectedTeams>();
        return services;
    }

    private sealed class NotConnectedFrontEnd : IUcFrontEndPort
    {
        public Task DeliverAsync(UcUpdate update, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("No UC front end is connected (webhook.listener.http.url); the update stays pending.");
    }

    private sealed class NotConnectedTeams : ITeamsPresencePort
    {
        private static InvalidOperationException Missing() =>
            new("Microsoft Graph is not connected (azure.activedirectory.*); the presence write stays pending.");

        public Task SetCallPresenceAsync(string userId, TimeSpan expiration, CancellationToken cancellationToken) => throw Missing();

        public Task<bool> ClearCallPresenceAsync(string userId, CancellationToken cancellationToken) => throw Missing();

        public Task<TeamsPresence> ReadPresenceAsync(string userId, CancellationToken cancellationToken) => throw Missing();
    }
}
