using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using PresenceActors.Simulators.Common;

namespace PresenceActors.Simulators.Uc;

/// <summary>
/// The UC side for tests and the sandbox: front ends that apply and record the bridge's updates (and can refuse,
/// fail or be slow on command), and a back end that reports UC status changes and phone calls to the internal API,
/// including the report that follows an applied update (the bridge must take it as its own echo).
/// </summary>
public sealed class UcSimulator : IAsyncDisposable
{
    public const string FrontEndPath = "/owc-servlets/user/graph/notifications";

    private readonly UcSimulatorOptions _options;
    private readonly X509Certificate2 _certificate = SimulatorCertificate.Create("PresenceActors UC simulator");
    private readonly ConcurrentDictionary<string, UcUser> _users = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<ReceivedUpdate> _updates = new();
    private readonly FrontEnd[] _frontEnds;
    private readonly HttpClient _backEnd;
    private WebApplication? _control;

    private UcSimulator(UcSimulatorOptions options)
    {
        _options = options;
        _frontEnds = options.FrontEndPorts.Select((port, i) => new FrontEnd(this, i, port)).ToArray();
        _backEnd = new HttpClient(new SocketsHttpHandler
        {
            // The service's internal API uses its own certificate; the simulator only ever talks to loopback.
            SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true },
            MaxConnectionsPerServer = options.BackEndConnections,
        })
        {
            Timeout = TimeSpan.FromSeconds(10),
        };
        if (options.ServiceApiKey is { } key)
            _backEnd.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
    }

    public X509Certificate2 Certificate => _certificate;

    public IReadOnlyList<Uri> FrontEndUrls => _frontEnds.Select(f => f.Url).ToList();

    public Uri? ControlUrl { get; private set; }

    public Uri? ServiceApi { get; set; }

    public IReadOnlyList<ReceivedUpdate> Updates => _updates.ToArray();

    /// <summary>Raised after a front end received an update (applied or not).</summary>
    public event Action<ReceivedUpdate>? UpdateReceived;

    public static async Task<UcSimulator> StartAsync(UcSimulatorOptions? options = null)
    {
        var sim = new UcSimulator(options ?? new UcSimulatorOptions()) { ServiceApi = options?.ServiceApi };
        foreach (var frontEnd in sim._frontEnds)
            await frontEnd.StartAsync();
        await sim.StartControlAsync();
        return sim;
    }

    public UcUser AddUser(string ucUserId, string status = "Available")
    {
        var user = _users.GetOrAdd(ucUserId, id => new UcUser { UcUserId = id });
        lock (user)
        {
            user.Status = status;
            user.History.Add((DateTimeOffset.UtcNow, status, "setup"));
        }

        return user;
    }

    public UcUser? User(string ucUserId) => _users.GetValueOrDefault(ucUserId);

    public IReadOnlyList<UcUser> Users => _users.Values.ToList();

    /// <summary>The person changes their UC status; the back end reports it.</summary>
    public Task<HttpStatusCode> SetStatusAsync(string ucUserId, string status)
    {
        var user = RequireUser(ucUserId);
        lock (user)
        {
            user.Status = status;
            user.History.Add((DateTimeOffset.UtcNow, status, "person"));
        }

        return ReportAsync(user);
    }

    /// <summary>A phone call on the PBX starts or ends; the back end reports it.</summary>
    public Task<HttpStatusCode> SetPhoneAsync(string ucUserId, bool onPhone)
    {
        var user = RequireUser(ucUserId);
        lock (user)
            user.OnPhone = onPhone;
        return ReportAsync(user);
    }

    /// <summary>
    /// The UC back end registers the user with the bridge (PUT /api/v1/users/{ucUserId}); like its reports, sent again
    /// after Retry-After while the bridge answers 503 (a node whose cluster is still forming), up to
    /// <see cref="ReportAttempts"/> times.
    /// </summary>
    public async Task<(HttpStatusCode Status, JsonObject? Body)> RegisterAsync(string ucUserId, string teamsUser)
    {
        for (var attempt = 1; ; attempt++)
        {
            using var response = await _backEnd.PutAsJsonAsync(new Uri(RequireApi(), $"api/v1/users/{Uri.EscapeDataString(ucUserId)}"), new { teamsUser });
            if (response.StatusCode == HttpStatusCode.ServiceUnavailable && attempt < ReportAttempts)
            {
                await Task.Delay(response.Headers.RetryAfter?.Delta ?? Backoff(attempt));
                continue;
            }

            var body = response.Content.Headers.ContentLength is > 0 ? await response.Content.ReadFromJsonAsync<JsonObject>() : null;
            return (response.StatusCode, body);
        }
    }

    /// <summary>An administrator of the UC system leaves the user out of the synchronisation, or takes them back (PUT /api/v1/users/{ucUserId}/sync).</summary>
    public async Task<HttpStatusCode> SetSynchronisedAsync(string ucUserId, bool enabled)
    {
        using var response = await _backEnd.PutAsJsonAsync(new Uri(RequireApi(), $"api/v1/users/{Uri.EscapeDataString(ucUserId)}/sync"), new { enabled });
        return response.StatusCode;
    }

    /// <summary>
    /// Reports every user's current status at once (POST /api/v1/presence), as the UC back end does after its own restart
    /// or on a schedule to reconcile; returns the answer's status and body.
    /// </summary>
    public async Task<(HttpStatusCode Status, JsonObject? Body)> ReportAllAsync()
    {
        var now = DateTimeOffset.UtcNow;
        var reports = _users.Values.Select(u =>
        {
            lock (u)
                return new { ucUserId = u.UcUserId, status = u.Status, onPhone = u.OnPhone, at = now };
        }).ToList();
        using var response = await _backEnd.PostAsJsonAsync(new Uri(RequireApi(), "api/v1/presence"), reports);
        var body = response.Content.Headers.ContentLength is > 0 || response.Content.Headers.ContentType is not null
            ? await response.Content.ReadFromJsonAsync<JsonObject>() : null;
        return (response.StatusCode, body);
    }

    /// <summary>The phone call ends on the PBX but its report never reaches the bridge (the back end's node died with it).</summary>
    public void EndCallUnreported(string ucUserId)
    {
        var user = _users[ucUserId];
        lock (user)
            user.OnPhone = false;
    }

    /// <summary>
    /// Reports the user's current status to the bridge. Like a UC back end that must not lose a phone call, it sends
    /// again (the then current status, after Retry-After) when the bridge answers 503, cannot be reached or does not
    /// answer in time, up to <see cref="ReportAttempts"/> times; the last answer is returned. Reports of one user go one
    /// at a time and carry the newest status, so a change made while an earlier report is still being retried is sent
    /// once, not once per change (thousands of reports retrying side by side only slowed an overloaded bridge down).
    /// </summary>
    public async Task<HttpStatusCode> ReportAsync(UcUser user)
    {
        long request;
        lock (user)
            request = ++user.Requested;
        await user.Reporting.WaitAsync();
        try
        {
            lock (user)
            {
                if (user.Covered >= request)
                    return user.LastAnswer; // a report that read the status after this request was made got through
            }

            var answer = await SendReportAsync(user);
            lock (user)
                user.LastAnswer = answer;
            return answer;
        }
        finally
        {
            user.Reporting.Release();
        }
    }

    private async Task<HttpStatusCode> SendReportAsync(UcUser user)
    {
        for (var attempt = 1; ; attempt++)
        {
            object payload;
            long covers;
            lock (user)
            {
                payload = new { status = user.Status, onPhone = user.OnPhone, at = DateTimeOffset.UtcNow };
                covers = user.Requested;
            }

            TimeSpan wait;
            try
            {
                using var response = await _backEnd.PostAsJsonAsync(new Uri(RequireApi(), $"api/v1/users/{Uri.EscapeDataString(user.UcUserId)}/presence"), payload);
                if (response.IsSuccessStatusCode)
                {
                    lock (user)
                        user.Covered = Math.Max(user.Covered, covers);
                }

                if (response.StatusCode != HttpStatusCode.ServiceUnavailable || attempt >= ReportAttempts)
                    return response.StatusCode;
                wait = response.Headers.RetryAfter?.Delta ?? Backoff(attempt);
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && attempt < ReportAttempts)
            {
                wait = Backoff(attempt); // unreachable, or no answer within the client's timeout
            }

            Interlocked.Increment(ref _reportRetries);
            await Task.Delay(wait);
        }
    }

    /// <summary>How often the back end tries one report (default 40: about three minutes of trying).</summary>
    public int ReportAttempts { get; set; } = 40;

    private static TimeSpan Backoff(int attempt) => TimeSpan.FromMilliseconds(Math.Min(250 * attempt, 5000));

    /// <summary>Reports sent again after a 503 or a connection failure.</summary>
    public long ReportRetries => Interlocked.Read(ref _reportRetries);

    private long _reportRetries;

    public FrontEndMode ModeOf(int frontEnd) => _frontEnds[frontEnd].Mode;

    public Task SetModeAsync(int frontEnd, FrontEndMode mode, int latencyMs = 0) => _frontEnds[frontEnd].SetModeAsync(mode, latencyMs);

    private Uri RequireApi() => ServiceApi ?? throw new InvalidOperationException("The UC simulator's back end has no service API configured (GraphConnectorURL).");

    private UcUser RequireUser(string ucUserId) =>
        _users.GetValueOrDefault(ucUserId) ?? throw new KeyNotFoundException($"No simulated UC user '{ucUserId}'.");

    /// <summary>A front end applies an update unless it already applied a higher sequence, then UC reports the change.</summary>
    private async Task<IResult> Receive(int index, HttpContext context)
    {
        var body = await JsonNode.ParseAsync(context.Request.Body) as JsonObject;
        var ucUserId = body?["ucUserId"]?.GetValue<string>();
        var status = body?["status"]?.GetValue<string>();
        var sequence = body?["sequence"]?.GetValue<long>() ?? 0;
        if (ucUserId is null || status is null)
            return Results.BadRequest("ucUserId and status are required");
        var user = _users.GetOrAdd(ucUserId, id => new UcUser { UcUserId = id });
        bool applied;
        bool changed;
        lock (user)
        {
            applied = sequence > user.LastAppliedSequence;
            changed = applied && user.Status != status;
            if (applied)
            {
                user.LastAppliedSequence = sequence;
                user.Status = status;
                user.History.Add((DateTimeOffset.UtcNow, status, "bridge"));
            }
        }

        var received = new ReceivedUpdate(DateTimeOffset.UtcNow, index, ucUserId, body!["teamsUserId"]?.GetValue<string>() ?? "",
            status, body["reason"]?.GetValue<string>() ?? "", sequence, applied);
        _updates.Enqueue(received);
        UpdateReceived?.Invoke(received);
        if (changed && ServiceApi is not null)
            _ = Task.Run(() => ReportAsync(user)); // UC reports its status change back: the bridge's own echo (E2)
        return Results.Ok();
    }

    private async Task StartControlAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Parse(_options.Host), _options.ControlPort, l => l.UseHttps(_certificate)));
        var app = builder.Build();
        var control = app.MapGroup("/_uc");
        control.MapGet("/users", () => Results.Json(Users.Select(View)));
        control.MapPost("/users", async (HttpContext c) =>
        {
            var body = await JsonNode.ParseAsync(c.Request.Body) as JsonObject;
            var id = body?["ucUserId"]?.GetValue<string>();
            if (string.IsNullOrWhiteSpace(id))
                return Results.BadRequest("ucUserId is required");
            var user = AddUser(id, body!["status"]?.GetValue<string>() ?? "Available");
            if (body["teamsUser"]?.GetValue<string>() is { } teams)
                await RegisterAsync(id, teams);
            return Results.Json(View(user), statusCode: 201);
        });
        control.MapPost("/users/{id}/status", async (string id, HttpContext c) =>
        {
            var status = (await JsonNode.ParseAsync(c.Request.Body))?["status"]?.GetValue<string>();
            return status is null ? Results.BadRequest("status is required") : Results.Json(new { reported = (int)await SetStatusAsync(id, status) });
        });
        control.MapPost("/users/{id}/call", async (string id, HttpContext c) =>
        {
            var active = (await JsonNode.ParseAsync(c.Request.Body))?["active"]?.GetValue<bool>() ?? true;
            return Results.Json(new { reported = (int)await SetPhoneAsync(id, active) });
        });
        control.MapPost("/frontends/{index:int}/mode", async (int index, HttpContext c) =>
        {
            var body = await JsonNode.ParseAsync(c.Request.Body) as JsonObject;
            if (index < 0 || index >= _frontEnds.Length)
                return Results.NotFound();
            await SetModeAsync(index, Enum.Parse<FrontEndMode>(body?["mode"]?.GetValue<string>() ?? "Up", ignoreCase: true), body?["latencyMs"]?.GetValue<int>() ?? 0);
            return Results.NoContent();
        });
        control.MapGet("/frontends", () => Results.Json(_frontEnds.Select(f => new { f.Index, url = f.Url, mode = f.Mode.ToString() })));
        control.MapGet("/updates", () => Results.Json(Updates));
        await app.StartAsync();
        _control = app;
        ControlUrl = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().Replace("localhost", "127.0.0.1") + "/_uc/");
    }

    private static object View(UcUser user)
    {
        lock (user)
            return new { user.UcUserId, user.Status, user.OnPhone, user.LastAppliedSequence, history = user.History.Select(h => new { h.At, h.Status, h.By }) };
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var frontEnd in _frontEnds)
            await frontEnd.StopAsync();
        if (_control is not null)
        {
            await _control.StopAsync();
            await _control.DisposeAsync();
        }

        _backEnd.Dispose();
    }

    /// <summary>One front-end node: its own listener, which can be taken down and brought back on the same port.</summary>
    private sealed class FrontEnd(UcSimulator owner, int index, int port)
    {
        private WebApplication? _app;
        private int _port = port;
        private volatile int _latencyMs;

        public int Index => index;

        public FrontEndMode Mode { get; private set; } = FrontEndMode.Up;

        public Uri Url => new($"https://{owner._options.Host}:{_port}{FrontEndPath}");

        public async Task StartAsync()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Parse(owner._options.Host), _port, l => l.UseHttps(owner._certificate)));
            var app = builder.Build();
            app.MapPost(FrontEndPath, (Delegate)(async (HttpContext c) =>
            {
                if (_latencyMs > 0)
                    await Task.Delay(_latencyMs);
                return Mode == FrontEndMode.Failing ? Results.StatusCode(503) : await owner.Receive(index, c);
            }));
            await app.StartAsync();
            _app = app;
            _port = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
        }

        public async Task SetModeAsync(FrontEndMode mode, int latencyMs)
        {
            _latencyMs = latencyMs;
            if (mode == FrontEndMode.Refusing && _app is not null)
                await StopAsync();
            else if (mode != FrontEndMode.Refusing && _app is null)
                await StartAsync();
            Mode = mode;
        }

        public async Task StopAsync()
        {
            if (_app is null)
                return;
            await _app.StopAsync();
            await _app.DisposeAsync();
            _app = null;
        }
    }
}
