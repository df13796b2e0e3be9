using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using PresenceActors.Users;

namespace PresenceActors.UcFrontEnd;

public static class UcFrontEndSetup
{
    /// <summary>The UC front ends (docs/design.md, 3.3): one emitter, the users' actors' UC port.</summary>
    public static IServiceCollection AddUcFrontEnds(this IServiceCollection services, UcFrontEndOptions options)
    {
        services.AddSingleton(sp => new UcFrontEndEmitter(options, sp.GetRequiredService<ILogger<UcFrontEndEmitter>>()));
        services.AddSingleton<IUcFrontEndPort>(sp => sp.GetRequiredService<UcFrontEndEmitter>());
        return services;
    }
}
