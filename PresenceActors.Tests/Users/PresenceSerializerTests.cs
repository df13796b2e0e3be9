using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using PresenceActors.Presence;
using PresenceActors.Users;
using Xunit;

namespace PresenceActors.Tests.Users;

public class PresenceSerializerTests : IAsyncLifetime
{
    private static readonly DateTimeOffset At = new(2026, 11, 26, 9, 30, 0, TimeSpan.FromHours(1));
    private IHost _host = null!;

    /// <summary>One instance of every type the serializer knows, with every optional part filled in.</summary>
    public static IEnumerable<object> Samples()
    {
        var update = new UcUpdate(7, "uc-7", "teams-7", UcStatus.Of("Lunch (custom)"), UcUpdate.TeamsCallEnded, At);
        var state = UserPresenceState.Initial("teams-7") with
        {
            UcUserId = "uc-7",
            Linked = true,
            Teams = TeamsPresence.Parse("Busy", "Focusing", "000123"),
            UcCurrent = UcStatus.Busy,
            UcLastReported = UcStatus.Busy,
            UcReportedAt = At,
            UcPrior = UcStatus.Of("Lunch (custom)"),
            UcOnPhone = true,
            TeamsCallActive = true,
            TeamsCallStatus = UcStatus.Of("DND"),
            Mapping = PresenceMapping.Seed.ForUser("teams-7") with { Version = 2 },
            TeamsCallStartedAt = At,
            RestorePending = true,
            UcChangedDuringCall = true,
            Session = new TeamsSession
            {
                ExpiresAt = At.AddMinutes(5), RefreshDueAt = At.AddMinutes(4), LastOperation = 3, Failures = 1, RetryAt = At,
                ClearedAt = At, InFlight = new SessionOperation(3, SessionOperationKind.Set, At, Withdrawing: true), ShownAs = TeamsShown.DoNotDisturb,
                Shown = [TeamsShown.InACall, TeamsShown.DoNotDisturb],
            },
            Outbox = new UcOutbox
            {
                LastSequence = 7, LastAcknowledged = 6, Pending = update, Failures = 2, RetryAt = At,
                Unechoed = [update], StatusBeforeUpdates = UcStatus.Busy,
            },
            TimerDueAt = At,
            History = [new PresenceTransition(At, "T1", "Teams call started")],
        };
        return
        [
            new UserLinked("uc-7") { At = At },
            new UserUnlinked { At = At },
            new TeamsPresenceObserved("Busy", "InACall", "000124", TeamsPresenceSource.Read) { At = At },
            new UcPresenceReported("Away", true, At.AddSeconds(-1)) { At = At },
            new TimerFired { At = At },
            new Resumed { At = At },
            new UcUpdateAcknowledged(7) { At = At },
            new UcUpdateFailed(7, "503 from https://fe1") { At = At },
            new TeamsSessionSet(3, At.AddMinutes(5)) { At = At },
            new TeamsSessionSetFailed(3, "429") { At = At },
            new TeamsSessionCleared(4, true) { At = At },
            new TeamsSessionClearFailed(4, "timed out") { At = At },
            new PresenceRulesChanged(PresenceMapping.Seed with
            {
                Version = 3, BusyOnBusy = true, TeamsToUc = [new TeamsToUcRow("Presenting", "DoNotDisturb", "Busy")],
                UcToTeams = [new UcToTeamsRow("phone", "Busy", "InACall"), new UcToTeamsRow("Do not disturb", "DoNotDisturb", "Presenting")],
            }) { At = At },
            new TeamsSessionSetWithdrawn(5) { At = At },
            state,
            new UserPresenceCommands.LinkUser("teams-7", "uc-7", Acknowledge: true),
            new UserPresenceCommands.UnlinkUser("teams-7", Acknowledge: true),
            new UserPresenceCommands.LinkState("teams-7", "uc-7"),
            // The trace context crosses nodes inside the message (docs/operator-guide.md, "Traces").
            new UserPresenceCommands.ObserveTeamsPresence("teams-7", "Busy", "InACall", null, TeamsPresenceSource.Notification, Acknowledge: true,
                TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
            new UserPresenceCommands.ReportUcPresence("teams-7", "Available", true, At, Acknowledge: true,
                TraceParent: "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01"),
            new UserPresenceCommands.ApplyRules("teams-7", 3),
            new UserPresenceCommands.Taken("teams-7"),
            new UserPresenceQueries.GetUserPresence("teams-7"),
            new UserPresenceQueries.UserPresenceView("teams-7", state),
            new UserPresenceQueries.GetSnapshot("teams-7"),
            UserPresenceSnapshot.Of(state),
        ];
    }

    public async Task InitializeAsync()
    {
        _host = new HostBuilder()
            .ConfigureServices(s => s.AddAkka("serializer-test", b => b.WithPresenceSerializer()))
            .Build();
        await _host.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }

    [Fact]
    public void Every_serializable_type_has_a_sample()
    {
        Assert.Equal(
            PresenceSerializer.SerializableTypes.Select(t => t.Name).Order(),
            Samples().Select(s => s.GetType().Name).Order());
    }

    [Fact]
    public void Every_type_round_trips_through_the_bound_serializer()
    {
        var system = _host.Services.GetRequiredService<ActorSystem>();
        foreach (var sample in Samples())
        {
            var serializer = system.Serialization.FindSerializerFor(sample);
            Assert.IsType<PresenceSerializer>(serializer);
            var manifest = Akka.Serialization.Serialization.ManifestFor(serializer, sample);
            var copy = system.Serialization.Deserialize(serializer.ToBinary(sample), serializer.Identifier, manifest);
            Assert.Equal(Normalise(sample), Normalise(copy));
        }
    }

    [Fact]
    public void Unknown_manifest_names_itself_in_the_error()
    {
        var system = (ExtendedActorSystem)_host.Services.GetRequiredService<ActorSystem>();
        var error = Assert.Throws<System.Runtime.Serialization.SerializationException>(
            () => new PresenceSerializer(system).FromBinary("{}"u8.ToArray(), "from-the-future"));
        Assert.Contains("from-the-future", error.Message);
    }

    /// <summary>Records holding immutable lists compare those by reference; compare their JSON instead.</summary>
    private static string Normalise(object value) =>
        System.Text.Json.JsonSerializer.Serialize(value, value.GetType(), PresenceSerializer.Json);
}
