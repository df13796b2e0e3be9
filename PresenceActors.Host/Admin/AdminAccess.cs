using System.Collections.Concurrent;
using System.Buffers.Text;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using PresenceActors.Host.UcApi;

namespace PresenceActors.Host.Admin;

/// <summary>
/// Who may use the admin port (docs/operator-guide.md, "Who may use the admin port"). The status page and <c>/admin</c>
/// answer loopback callers only, and only for a host name a browser cannot be tricked into (an IP address or
/// <c>localhost</c>). Reading needs the token (the CLI's <c>Authorization: Bearer</c>, or the page's session cookie) when
/// <c>presence.admin.token</c> is set. An action (anything but GET) also needs a header a cross-site page cannot send:
/// the bearer token, or the page's CSRF value in <see cref="CsrfHeader"/>; its parameters travel in a JSON body.
/// <c>/metrics</c> and <c>/healthz</c> need the token too unless <c>presence.admin.open</c> names them.
/// </summary>
public sealed class AdminAccess(string? token, IReadOnlySet<string> open, TimeProvider clock)
{
    /// <summary>The page's session cookie: a random session id, never the token.</summary>
    public const string SessionCookie = "presence-admin-session";

    /// <summary>The header an action must carry when it is not authorized by the bearer token.</summary>
    public const string CsrfHeader = "X-Presence-Csrf";

    /// <summary>A session lasts this long after sign-in.</summary>
    public static readonly TimeSpan SessionLifetime = TimeSpan.FromHours(8);

    /// <summary>What <c>presence.admin.open</c> may name.</summary>
    public static readonly IReadOnlyList<string> OpenableEndpoints = ["metrics", "health"];

    private const int MaxSessions = 1_000;
    private readonly ConcurrentDictionary<string, Session> _sessions = new(StringComparer.Ordinal);

    private sealed record Session(string Csrf, DateTimeOffset Expires);

    public bool TokenRequired => token is not null;

    /// <summary>A new session for the page once the token was offered; its id goes into the cookie.</summary>
    public bool TrySignIn(string offered, out string sessionId)
    {
        sessionId = "";
        if (token is null || !FixedEquals(offered, token))
            return false;
        var now = clock.GetUtcNow();
        foreach (var (id, session) in _sessions)
        {
            if (session.Expires <= now)
                _sessions.TryRemove(id, out _);
        }

        if (_sessions.Count >= MaxSessions)
        {
            // Many sign-ins within the lifetime: the oldest sessions go first.
            foreach (var (id, _) in _sessions.OrderBy(s => s.Value.Expires).Take(_sessions.Count - MaxSessions + 1))
                _sessions.TryRemove(id, out _);
        }

        sessionId = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
        _sessions[sessionId] = new Session(Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32)), now + SessionLifetime);
        return true;
    }

    public void SignOut(HttpContext context)
    {
        if (context.Request.Cookies.TryGetValue(SessionCookie, out var id))
            _sessions.TryRemove(id, out _);
    }

    /// <summary>The CSRF value the page sends with its actions: its session's, or a fixed word when no token is set.</summary>
    public string PageCsrf(HttpContext context) => CurrentSession(context)?.Csrf ?? "page";

    /// <summary>Whether the caller may see the status page itself (not the login form).</summary>
    public bool SignedIn(HttpContext context) => token is null || Bearer(context) || CurrentSession(context) is not null;

    /// <summary>The loopback and host-name checks of the page and <c>/admin</c>: null when they pass.</summary>
    public static IResult? LocalOnly(HttpContext context, string what)
    {
        if (context.Connection.RemoteIpAddress is { } remote && !IPAddress.IsLoopback(remote))
            return UcApiEndpoints.Problem(403, "address", $"{what} answers on loopback only.");
        // A page of another site whose name is made to resolve to 127.0.0.1 (DNS rebinding) would be same-origin with
        // us: only an address or localhost is accepted as the host.
        var host = context.Request.Host.Host.Trim('[', ']');
        if (!IPAddress.TryParse(host, out _) && !string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
            return UcApiEndpoints.Problem(403, "Host", $"{what} answers only to an address or localhost as the host, not '{Shorten(host)}'.");
        return null;
    }

    /// <summary>The check of every <c>/admin</c> request: null when it may go on.</summary>
    public IResult? Check(HttpContext context)
    {
        if (LocalOnly(context, "The admin endpoint") is { } refused)
            return refused;
        var bearer = Bearer(context);
        var session = CurrentSession(context);
        if (token is not null && !bearer && session is null)
            return UcApiEndpoints.Problem(401, "Authorization", "Send 'Authorization: Bearer <presence.admin.token>' (or sign in on /status).");
        if (HttpMethods.IsGet(context.Request.Method) || HttpMethods.IsHead(context.Request.Method) || bearer)
            return null;

        // An action without the bearer token: a browser sends our header only from our own page (a cross-site page
        // would need a CORS preflight, which this port never grants).
        var offered = context.Request.Headers[CsrfHeader].ToString();
        var expected = session?.Csrf;
        if (offered.Length == 0 || (expected is not null && !FixedEquals(offered, expected)))
        {
            return UcApiEndpoints.Problem(403, CsrfHeader,
                token is null
                    ? $"An admin action needs the {CsrfHeader} header (ctl and the status page send it)."
                    : $"An admin action needs 'Authorization: Bearer <presence.admin.token>', or the status page's {CsrfHeader} header.");
        }

        return null;
    }

    /// <summary>Who made an admin action, for the audit trail: how they were let in, and from where (never the token).</summary>
    public string Caller(HttpContext context)
    {
        var how = Bearer(context) ? "admin token"
            : CurrentSession(context) is not null ? "status page session"
            : context.Request.Headers[CsrfHeader].ToString() == "ctl" ? "ctl, no token set" : "status page, no token set";
        return $"{how} from {context.Connection.RemoteIpAddress?.ToString() ?? "?"}";
    }

    /// <summary>The check of <c>/metrics</c> and <c>/healthz</c> (<paramref name="kind"/> "metrics" or "health").</summary>
    public IResult? CheckOpen(HttpContext context, string kind) =>
        token is null || open.Contains(kind) || Bearer(context) || CurrentSession(context) is not null
            ? null
            : UcApiEndpoints.Problem(401, "Authorization",
                $"Send 'Authorization: Bearer <presence.admin.token>', or name '{kind}' in presence.admin.open to serve it without the token.");

    /// <summary>An action's parameters, bound by <see cref="JsonRequest"/> (at most 64 KiB; an empty body reads as <c>{}</c>).</summary>
    public static Task<(T? Body, IResult? Problem)> ReadBodyAsync<T>(HttpContext context) where T : class, new() =>
        JsonRequest.ReadParametersAsync<T>(context, 64 * 1024);

    private bool Bearer(HttpContext context) =>
        token is not null && FixedEquals(context.Request.Headers.Authorization.ToString(), $"Bearer {token}");

    private Session? CurrentSession(HttpContext context) =>
        token is not null && context.Request.Cookies.TryGetValue(SessionCookie, out var id) && _sessions.TryGetValue(id, out var session)
                          && session.Expires > clock.GetUtcNow()
            ? session
            : null;

    private static bool FixedEquals(string offered, string expected) =>
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(offered), Encoding.UTF8.GetBytes(expected));

    private static string Shorten(string text) => text.Length <= 60 ? text : text[..60] + "…";
}
