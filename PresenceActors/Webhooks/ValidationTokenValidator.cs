using System.Collections.Concurrent;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace PresenceActors.Webhooks;

/// <summary>
/// Checks the validationTokens of rich notifications (docs/reliability.md, "Validation tokens"): signature against the keys published at the
/// configured OpenID metadata URL, lifetime (5 minutes of clock skew), issuer https://sts.windows.net/{tenant}/ (and a tid
/// claim, when present, naming the same tenant), audience = one of our application ids (a subscription's tokens name the
/// application it was made with, docs/graph-budget.md, "Several applications"), and appid = Graph's change-notification
/// publisher. Valid tokens are remembered until they expire, so the hot path
/// validates each distinct token once.
/// </summary>
public sealed class ValidationTokenValidator
{
    public const string GraphNotificationPublisher = "0bf30f3b-4a52-48df-9a82-234910c4a086";

    private readonly ConfigurationManager<OpenIdConnectConfiguration> _metadata;
    private readonly JsonWebTokenHandler _handler = new();
    private readonly string _issuer;
    private readonly Func<IEnumerable<string>> _audiences;
    private readonly string _tenant;
    private readonly ConcurrentDictionary<string, DateTime> _valid = new(StringComparer.Ordinal);

    /// <param name="audiences">Our application ids as they are now (one may be added at runtime).</param>
    public ValidationTokenValidator(Uri openIdConfiguration, string tenantId, Func<IEnumerable<string>> audiences, HttpClient http)
    {
        _metadata = new ConfigurationManager<OpenIdConnectConfiguration>(
            openIdConfiguration.ToString(), new OpenIdConnectConfigurationRetriever(), new HttpDocumentRetriever(http) { RequireHttps = true });
        _issuer = $"https://sts.windows.net/{tenantId}/";
        _tenant = tenantId;
        _audiences = audiences;
    }

    /// <summary>Fetches the signing keys ahead of the first notification.</summary>
    public Task WarmUpAsync(CancellationToken cancellationToken) => _metadata.GetConfigurationAsync(cancellationToken);

    public async Task<bool> AllValidAsync(IReadOnlyList<string> tokens, CancellationToken cancellationToken)
    {
        if (tokens.Count == 0)
            return false;
        foreach (var token in tokens)
        {
            if (!await IsValidAsync(token, cancellationToken))
                return false;
        }

        return true;
    }

    private async Task<bool> IsValidAsync(string token, CancellationToken cancellationToken)
    {
        if (_valid.TryGetValue(token, out var until) && until > DateTime.UtcNow)
            return true;
        var configuration = await _metadata.GetConfigurationAsync(cancellationToken);
        var result = await _handler.ValidateTokenAsync(token, new TokenValidationParameters
        {
            ValidIssuer = _issuer,
            ValidAudiences = _audiences(),
            IssuerSigningKeys = configuration.SigningKeys,
            ValidateLifetime = true,
            ClockSkew = TimeSpan.FromMinutes(5),
        });
        // The tenant is the issuer's; a tid claim naming another tenant contradicts it.
        if (!result.IsValid || !(result.Claims.TryGetValue("appid", out var appid) && Equals(appid, GraphNotificationPublisher))
                            || (result.Claims.TryGetValue("tid", out var tid) && !string.Equals(tid as string, _tenant, StringComparison.OrdinalIgnoreCase)))
        {
            if (result.Exception is SecurityTokenSignatureKeyNotFoundException)
                _metadata.RequestRefresh(); // keys rotate
            return false;
        }

        if (_valid.Count > 10_000)
            _valid.Clear();
        _valid[token] = result.SecurityToken.ValidTo;
        return true;
    }
}
