using System.Text.Json.Nodes;
using PresenceActors.Simulators.Common;

namespace PresenceActors.Simulators.Graph;

/// <summary>Entra ID as Azure.Identity and MSAL see it (docs/graph-api.md, section 8): token endpoint, user realm, OpenID metadata, JWKS.</summary>
internal static class EntraEndpoints
{
    public const string GraphAudience = "https://graph.microsoft.com";

    private static readonly Dictionary<int, (string Error, string Description, string? SubError)> AadstsErrors = new()
    {
        [50126] = ("invalid_grant", "Error validating credentials due to invalid username or password.", null),
        [50034] = ("invalid_grant", "The user account does not exist in the directory.", null),
        [50076] = ("invalid_grant", "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '00000003-0000-0000-c000-000000000000'.", "basic_action"),
        [50053] = ("invalid_grant", "The account is locked, you've tried to sign in too many times with an incorrect user ID or password.", null),
        [50055] = ("invalid_grant", "The password is expired.", "user_password_expired"),
        [50057] = ("invalid_grant", "The user account is disabled.", null),
        [53003] = ("invalid_grant", "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.", "message_only"),
        [65001] = ("invalid_grant", "The user or administrator has not consented to use the application.", "consent_required"),
        [7000215] = ("invalid_client", "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.", null),
        [7000222] = ("invalid_client", "The provided client secret keys for the app are expired. Visit the Azure portal to create new keys for your app.", null),
        [7000218] = ("invalid_client", "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.", null),
        [700016] = ("unauthorized_client", "Application was not found in the directory.", null),
        [90002] = ("invalid_request", "Tenant not found.", null),
        [1002012] = ("invalid_scope", "The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.", null),
    };

    public static IReadOnlyCollection<int> SupportedErrors => AadstsErrors.Keys;

    public static void Map(WebApplication app, GraphSimulator sim)
    {
        app.MapPost("/{tenant}/oauth2/v2.0/token", (string tenant, HttpContext context) => Token(sim, tenant, context)).Api("token");
        app.MapGet("/common/userrealm/{upn}", (string upn) => Results.Json(new JsonObject
        {
            ["ver"] = "1.0",
            ["account_type"] = "Managed",
            ["domain_name"] = upn.Contains('@') ? upn.Split('@')[1] : sim.Tenant.Domain,
            ["cloud_instance_name"] = "microsoftonline.com",
            ["cloud_audience_urn"] = "urn:federation:MicrosoftOnline",
        })).Api("userrealm");
        foreach (var path in new[] { "/{tenant}/.well-known/openid-configuration", "/{tenant}/v2.0/.well-known/openid-configuration" })
            app.MapGet(path, (string tenant) => Results.Json(OpenIdConfiguration(sim, tenant))).Api(path.Contains("v2.0") ? "openid.v2" : "openid");
        foreach (var path in new[] { "/{tenant}/discovery/keys", "/{tenant}/discovery/v2.0/keys" })
            app.MapGet(path, () => Results.Json(new JsonObject { ["keys"] = new JsonArray(sim.Signer.Jwk()) })).Api(path.Contains("v2.0") ? "jwks.v2" : "jwks");
    }

    private static JsonObject OpenIdConfiguration(GraphSimulator sim, string tenant)
    {
        var tid = tenant is "common" or "organizations" ? "{tenantid}" : sim.Tenant.TenantId;
        var root = sim.BaseUrl.ToString().TrimEnd('/');
        return new JsonObject
        {
            ["issuer"] = $"https://sts.windows.net/{tid}/",
            ["jwks_uri"] = $"{root}/{tenant}/discovery/keys",
            ["token_endpoint"] = $"{root}/{tenant}/oauth2/v2.0/token",
            ["authorization_endpoint"] = $"{root}/{tenant}/oauth2/v2.0/authorize",
            ["id_token_signing_alg_values_supported"] = new JsonArray("RS256"),
            ["response_types_supported"] = new JsonArray("code", "id_token", "token"),
            ["subject_types_supported"] = new JsonArray("pairwise"),
            ["tenant_region_scope"] = "EU",
        };
    }

    private static async Task<IResult> Token(GraphSimulator sim, string tenant, HttpContext context)
    {
        var form = await context.Request.ReadFormAsync();
        var tenantModel = sim.Tenant;
        if (!string.Equals(tenant, tenantModel.TenantId, StringComparison.OrdinalIgnoreCase)
            && !string.Equals(tenant, tenantModel.Domain, StringComparison.OrdinalIgnoreCase))
            return Error(90002, $"Tenant '{tenant}' not found.");

        var clientId = form["client_id"].ToString();
        var app = tenantModel.FindApplication(clientId);
        if (app is null)
            return Error(700016, $"Application with identifier '{clientId}' was not found in the directory '{tenant}'.");
        if (app.InjectedError is { } appError)
            return Error(appError);

        var now = tenantModel.Clock.GetUtcNow();
        var secret = form["client_secret"].ToString();
        if (!string.IsNullOrEmpty(secret))
        {
            var match = app.Secrets.FirstOrDefault(s => s.Value == secret);
            if (match is null)
                return Error(7000215, $"Invalid client secret provided for app '{clientId}'.");
            if (match.ExpiresAt <= now)
                return Error(7000222, $"The provided client secret keys for app '{clientId}' are expired.");
        }

        var grant = form["grant_type"].ToString();
        var scope = form["scope"].ToString();
        switch (grant)
        {
            case "client_credentials":
                if (string.IsNullOrEmpty(secret))
                    return Error(7000218);
                if (!scope.Split(' ', StringSplitOptions.RemoveEmptyEntries).All(s => s.EndsWith("/.default", StringComparison.Ordinal)))
                    return Error(1002012);
                return Results.Json(new JsonObject
                {
                    ["token_type"] = "Bearer",
                    ["expires_in"] = (int)sim.TokenLifetime.TotalSeconds,
                    ["ext_expires_in"] = (int)sim.TokenLifetime.TotalSeconds,
                    ["access_token"] = AccessToken(sim, app.ClientId, null, now),
                });

            case "password":
            case "refresh_token":
                if (string.IsNullOrEmpty(secret) && !app.AllowPublicClientFlows)
                    return Error(7000218);
                SimUser? user;
                if (grant == "password")
                {
                    user = tenantModel.FindUser(form["username"].ToString());
                    if (user is null)
                        return Error(50034, $"The user account {form["username"]} does not exist in the {tenant} directory.");
                    if (user.InjectedError is { } userError)
                        return Error(userError);
                    if (user.Password is null || user.Password != form["password"].ToString())
                        return Error(50126);
                }
                else
                {
                    var claims = sim.Signer.Verify(form["refresh_token"].ToString());
                    user = claims?["oid"]?.GetValue<string>() is { } oid ? tenantModel.FindUser(oid) : null;
                    if (user is null || claims?["typ"]?.GetValue<string>() != "refresh")
                        return Error(50126, "The refresh token is invalid.");
                    if (user.InjectedError is { } userError)
                        return Error(userError);
                }

                if (!app.AdminConsented)
                    return Error(65001, $"The user or administrator has not consented to use the application with ID '{app.ClientId}'.");
                var grantedScopes = string.Join(' ', scope.Split(' ', StringSplitOptions.RemoveEmptyEntries)
                    .Where(s => s is not ("openid" or "profile" or "offline_access")));
                var refresh = sim.Signer.Sign(new JsonObject
                {
                    ["typ"] = "refresh", ["oid"] = user.Id, ["aud"] = app.ClientId, ["iat"] = now.ToUnixTimeSeconds(),
                    ["jti"] = Guid.NewGuid().ToString(),
                });
                return Results.Json(new JsonObject
                {
                    ["token_type"] = "Bearer",
                    ["scope"] = grantedScopes.Length > 0 ? grantedScopes : "https://graph.microsoft.com/Presence.Read.All",
                    ["expires_in"] = (int)sim.TokenLifetime.TotalSeconds,
                    ["ext_expires_in"] = (int)sim.TokenLifetime.TotalSeconds,
                    ["access_token"] = AccessToken(sim, app.ClientId, user, now),
                    ["refresh_token"] = refresh,
                    ["id_token"] = SimJwt.Unsigned(new JsonObject
                    {
                        ["aud"] = app.ClientId,
                        ["iss"] = $"{sim.BaseUrl.ToString().TrimEnd('/')}/{tenantModel.TenantId}/v2.0",
                        ["iat"] = now.ToUnixTimeSeconds(),
                        ["nbf"] = now.ToUnixTimeSeconds(),
                        ["exp"] = now.AddHours(1).ToUnixTimeSeconds(),
                        ["oid"] = user.Id,
                        ["sub"] = user.Id,
                        ["tid"] = tenantModel.TenantId,
                        ["preferred_username"] = user.UserPrincipalName,
                        ["name"] = user.DisplayName,
                        ["ver"] = "2.0",
                    }),
                    ["client_info"] = SimJwt.Base64Url(new JsonObject { ["uid"] = user.Id, ["utid"] = tenantModel.TenantId }.ToJsonString()),
                });

            default:
                return Results.Json(new JsonObject
                {
                    ["error"] = "unsupported_grant_type",
                    ["error_description"] = $"AADSTS70003: The app requested an unsupported grant type '{grant}'.",
                    ["error_codes"] = new JsonArray(70003),
                }, statusCode: 400);
        }
    }

    internal static string AccessToken(GraphSimulator sim, string appId, SimUser? user, DateTimeOffset now)
    {
        var claims = new JsonObject
        {
            ["aud"] = GraphAudience,
            ["iss"] = $"https://sts.windows.net/{sim.Tenant.TenantId}/",
            ["iat"] = now.ToUnixTimeSeconds(),
            ["nbf"] = now.ToUnixTimeSeconds(),
            ["exp"] = now.Add(sim.TokenLifetime).ToUnixTimeSeconds(),
            ["appid"] = appId,
            ["tid"] = sim.Tenant.TenantId,
            ["ver"] = "1.0",
            ["idtyp"] = user is null ? "app" : "user",
        };
        if (user is null)
        {
            claims["roles"] = new JsonArray("Presence.ReadWrite.All", "User.Read.All");
        }
        else
        {
            claims["oid"] = user.Id;
            claims["upn"] = user.UserPrincipalName;
            claims["scp"] = "Presence.Read.All User.Read";
        }

        return sim.Signer.Sign(claims);
    }

    private static IResult Error(int code, string? description = null)
    {
        var (error, text, subError) = AadstsErrors[code];
        var body = new JsonObject
        {
            ["error"] = error,
            ["error_description"] = $"AADSTS{code}: {description ?? text} Trace ID: {Guid.NewGuid()} Correlation ID: {Guid.NewGuid()} Timestamp: {DateTime.UtcNow:yyyy-MM-dd HH:mm:ssZ}",
            ["error_codes"] = new JsonArray(code),
            ["timestamp"] = DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm:ssZ"),
            ["trace_id"] = Guid.NewGuid().ToString(),
            ["correlation_id"] = Guid.NewGuid().ToString(),
            ["error_uri"] = $"https://login.microsoftonline.com/error?code={code}",
        };
        if (subError is not null)
            body["suberror"] = subError;
        return Results.Json(body, statusCode: error == "invalid_client" ? 401 : 400);
    }
}
