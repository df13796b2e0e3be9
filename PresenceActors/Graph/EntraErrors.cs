using System.Text.RegularExpressions;

namespace PresenceActors.Graph;

/// <summary>AADSTS codes that operators meet, with what to do about each (docs/graph-api.md, section 8).</summary>
public static partial class EntraErrors
{
    private static readonly Dictionary<int, string> Fixes = new()
    {
        [50126] = "wrong username or password: check the technical user's password in the configuration",
        [50034] = "the user does not exist in this tenant: check the username and azure.activedirectory.tenantId",
        [50076] = "multi-factor authentication is required for this user: exclude the technical user from MFA (Conditional Access) — ROPC cannot do MFA",
        [50079] = "the user must register for multi-factor authentication: exclude the technical user from MFA registration",
        [50053] = "the account is locked after too many failed sign-ins: wait or unlock it in Entra ID, then check the configured password",
        [50055] = "the password has expired: set a new password in Entra ID and in the configuration (consider a non-expiring password policy for technical users)",
        [50057] = "the user account is disabled: enable it in Entra ID",
        [53003] = "blocked by Conditional Access: exclude the technical user (or the app) from the policy that blocks it",
        [530035] = "blocked by security defaults: turn them off for this tenant or use Conditional Access with an exclusion",
        [65001] = "admin consent is missing: grant admin consent for Presence.Read.All (delegated), Presence.ReadWrite.All and User.Read.All (application)",
        [7000215] = "invalid client secret: put the secret's value (not its id) into azure.activedirectory.clientSecret",
        [7000222] = "the client secret has expired: create a new secret under Certificates & secrets and update azure.activedirectory.clientSecret",
        [7000218] = "public client flows are disabled: set 'Allow public client flows' to Yes under the app's Authentication settings",
        [700016] = "the application is unknown in this tenant: check azure.activedirectory.clientId and tenantId",
        [90002] = "the tenant is unknown: check azure.activedirectory.tenantId",
    };

    [GeneratedRegex(@"AADSTS(?<code>\d{5,7})")]
    private static partial Regex Code();

    /// <summary>The AADSTS code in an error text, if there is one.</summary>
    public static int? CodeIn(string? text) =>
        text is not null && Code().Match(text) is { Success: true } match ? int.Parse(match.Groups["code"].Value) : null;

    /// <summary>"AADSTS50076: ... fix" for a person to act on.</summary>
    public static string Explain(int code) =>
        Fixes.TryGetValue(code, out var fix) ? $"AADSTS{code}: {fix}" : $"AADSTS{code}: see https://login.microsoftonline.com/error?code={code}";

    public static IReadOnlyCollection<int> Known => Fixes.Keys;
}
