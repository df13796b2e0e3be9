using System.Security.Cryptography.X509Certificates;
using System.Text;
using PresenceActors.Graph;
using PresenceActors.Subscriptions;

namespace PresenceActors.Host.Doctor;

/// <summary>
/// Checks what an operator would otherwise find out from failures: sign-in of the application and of every technical
/// user (AADSTS codes translated into the fix), the Graph permissions (a user look-up, a presence read, a subscription
/// created and deleted), the public webhook's validation handshake, the UC front ends, and certificate expiry.
/// Every line is something a person can act on; any failure makes the exit code non-zero.
/// </summary>
public sealed class Doctor(PresenceServiceOptions options, TextWriter output)
{
    private int _failures;

    private X509Certificate2? _encryption;

    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        using var graph = new GraphGateway(options.Graph);
        _encryption = options.EncryptionCertificate;
        if (options.EncryptionStore is { } store)
        {
            // The cluster's certificates, from PostgreSQL (made there if this is the first node ever to ask).
            var stored = await Try<IReadOnlyList<PresenceActors.Webhooks.StoredCertificate>>(async () => await store.LoadOrCreateAsync(cancellationToken),
                "read the cluster's notification encryption certificates from PostgreSQL",
                "check presence.persistence.connectionString, and that presence.clientState.key is the key every node has");
            _encryption = stored?[0].Certificate;
        }

        // Every application on its own (docs/graph-budget.md, "Several applications"): its client secret, each technical
        // user's sign-in with it (public client flows and consent are per application), and its permissions.
        var handshake = await HandshakeAsync(cancellationToken);
        DirectoryUser? probeUser = null;
        var applications = graph.Applications;
        for (var i = 0; i < applications.Count; i++)
        {
            var application = applications[i];
            var with = applications.Count == 1 ? "" : $" with application {application}";
            var appProblem = await graph.CheckSignInAsync(null, cancellationToken, application);
            Report(appProblem is null, $"application {application} signs in (client secret)", appProblem);

            string? usable = null;
            foreach (var account in options.Graph.TechnicalAccounts)
            {
                var problem = await graph.CheckSignInAsync(account.Username, cancellationToken, application);
                Report(problem is null, $"technical user {account.Username} signs in{with} (username/password)", problem);
                usable ??= problem is null ? SubscriptionSlots.Name(account.Username, application, i == 0) : null;
            }

            if (appProblem is not null || options.Graph.TechnicalAccounts.Count == 0)
                continue;
            if (i == 0)
            {
                probeUser = await Try<DirectoryUser>(() => graph.ResolveAsync(options.Graph.TechnicalAccounts[0].Username, cancellationToken),
                    "look up a user (User.Read.All, application)", "grant the application permission User.Read.All and admin consent");
            }

            if (probeUser is null)
                continue;
            await Try<ObservedPresence>(async () => await graph.ProbePresenceAsync(application, probeUser.Id, cancellationToken),
                $"read presence{with} (Presence.Read.All / Presence.ReadWrite.All, application)",
                $"grant the application {application} the permission Presence.ReadWrite.All and admin consent");
            if (handshake && usable is not null && _encryption is not null)
                await SubscriptionProbeAsync(graph, usable, probeUser.Id, cancellationToken);
        }

        foreach (var url in options.FrontEnds.Urls)
            await FrontEndAsync(url, cancellationToken);

        Certificate("webhook TLS certificate (presence.webhook.certificate)", options.Webhook.Certificate);
        Certificate("internal API TLS certificate (presence.api.certificate)", options.InternalApi.Certificate);
        Certificate("notification encryption certificate (presence.encryption.certificate)", _encryption);
        foreach (var warning in options.Warnings)
            output.WriteLine($"WARN  {warning}");
        output.WriteLine("note: the client secret's expiry is not visible to the application itself; check it under Certificates & secrets.");

        output.WriteLine(_failures == 0 ? "doctor: everything checked is fine" : $"doctor: {_failures} problem(s) found");
        return _failures == 0 ? 0 : 1;
    }

    private void Report(bool ok, string what, string? fix)
    {
        if (!ok)
            _failures++;
        output.WriteLine(ok ? $"OK    {what}" : $"FAIL  {what}: {fix}");
    }

    private async Task<T?> Try<T>(Func<Task<T?>> probe, string what, string fix) where T : class
    {
        try
        {
            var result = await probe();
            Report(true, what, null);
            return result;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Report(false, what, $"{Short(e)} — {fix}");
            return null;
        }
    }

    private async Task<bool> HandshakeAsync(CancellationToken cancellationToken)
    {
        const string token = "doctor: validation handshake check";
        var what = $"webhook.receiver {options.WebhookReceiver} answers Graph's validation handshake";
        try
        {
            using var http = new HttpClient(PinnedTls.Handler(options.Graph.TrustedCertificates.Concat(
                options.Webhook.Certificate is { } own ? [own] : Array.Empty<X509Certificate2>()).ToList())) { Timeout = TimeSpan.FromSeconds(10) };
            using var response = await http.PostAsync($"{options.WebhookReceiver}?validationToken={Uri.EscapeDataString(token)}",
                new StringContent("", Encoding.UTF8, "text/plain"), cancellationToken);
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            var ok = response.IsSuccessStatusCode && body == token && response.Content.Headers.ContentType?.MediaType == "text/plain";
            Report(ok, what, ok ? null : $"it answered {(int)response.StatusCode} with a different body — check the reverse proxy forwards {options.WebhookReceiver.AbsolutePath} unchanged to this service");
            return ok;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            Report(false, what, $"{Short(e)} — is the service running, and does the reverse proxy (HAProxy) route that URL to port {options.Webhook.Port}? Graph needs a publicly trusted certificate on every hop.");
            return false;
        }
    }

    private async Task SubscriptionProbeAsync(GraphGateway graph, string account, string userId, CancellationToken cancellationToken)
    {
        var what = $"technical user {SubscriptionSlots.UsernameOf(account)} can create and delete a presence subscription{(SubscriptionSlots.IsUsername(account) ? "" : $" with application {account.Split('/')[1]}")} (Presence.Read.All, delegated)";
        try
        {
            var signer = new ClientStateSigner(options.ClientStateKey, options.PreviousClientStateKeys, options.NextClientStateKeys);
            var created = await graph.CreateSubscriptionAsync(account, [userId], new SubscriptionRequest(
                options.WebhookReceiver, options.LifecycleUrl, signer.Create(account), _encryption!,
                PresenceActors.Webhooks.EncryptionCertificates.IdOf(_encryption!), DateTimeOffset.UtcNow.AddMinutes(5)), cancellationToken);
            await graph.DeleteSubscriptionAsync(account, created.Id, cancellationToken);
            Report(true, what, null);
        }
        catch (Microsoft.Graph.Models.ODataErrors.ODataError e) when (e.ResponseStatusCode == 409)
        {
            Report(true, $"{what}: it already holds one (the running service's)", null);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Report(false, what, $"{Short(e)} — grant the delegated permission Presence.Read.All with admin consent");
        }
    }

    private async Task FrontEndAsync(Uri url, CancellationToken cancellationToken)
    {
        var what = $"UC front end {url} answers";
        try
        {
            using var http = new HttpClient(PinnedTls.Handler(options.FrontEnds.TrustedCertificates)) { Timeout = TimeSpan.FromSeconds(10) };
            using var response = await http.SendAsync(new HttpRequestMessage(HttpMethod.Options, url), cancellationToken);
            var ok = (int)response.StatusCode < 500;
            Report(ok, what, ok ? null : $"it answered {(int)response.StatusCode}; check the front end's Graph Connector servlet");
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            Report(false, what, $"{Short(e)} — check webhook.listener.http.url and that this host may reach the front end");
        }
    }

    private void Certificate(string what, X509Certificate2? certificate)
    {
        if (certificate is null)
            return;
        var left = certificate.NotAfter.ToUniversalTime() - DateTime.UtcNow;
        if (left > TimeSpan.Zero && left <= TimeSpan.FromDays(30))
        {
            output.WriteLine($"WARN  {what} expires in {left.TotalDays:0} days ({certificate.NotAfter:yyyy-MM-dd}): renew it");
            return;
        }

        Report(left > TimeSpan.Zero, $"{what} valid until {certificate.NotAfter:yyyy-MM-dd}", "it has expired: replace it");
    }

    private static string Short(Exception e) => e is Microsoft.Graph.Models.ODataErrors.ODataError o
        ? $"Graph answered {o.ResponseStatusCode}: {o.Error?.Message}"
        : e.GetBaseException().Message;
}
