using System.Text.Json;
using Akka.Actor;
using PresenceActors.Mapping;
using PresenceActors.Serialization;
using PresenceActors.Users;
using Xunit;
using static PresenceActors.Mapping.MappingCommands;

namespace PresenceActors.Tests.Mapping;

/// <summary>Everything the mapping singleton journals, snapshots or sends between nodes survives its serializer.</summary>
public class MappingSerializerTests
{
    private static readonly DateTimeOffset At = new(2026, 12, 2, 9, 0, 0, TimeSpan.Zero);

    private static readonly PresenceMapping Table = PresenceMapping.Seed with
    {
        Version = 7,
        TeamsToUc = [.. PresenceMapping.Seed.TeamsToUc, new TeamsToUcRow("Presenting", "DoNotDisturb", "Busy")],
        UcToTeams = [.. PresenceMapping.Seed.UcToTeams, new UcToTeamsRow("Do not disturb", "DoNotDisturb", "Presenting")],
        BusyOnBusy = true,
        BusyOnBusyOff = ["teams-reception"],
    };

    public static IEnumerable<object> Samples()
    {
        var saved = new MappingSaved(Table, "ctl, no token set from 127.0.0.1", At, "why – with ünïcode");
        var change = new PreviewChange("teams-1", "uc-1", "DoNotDisturb/Presenting", "Available", ["UC Busy", "Teams DoNotDisturb/Presenting"]);
        return
        [
            saved,
            new MappingSnapshot(Table, [saved]),
            new GetMapping(),
            new CurrentMapping(Table),
            new SaveMapping(Table, 6, "admin token from 127.0.0.1", null),
            new SaveResult(false, Table, ["basedOn: the mapping changed meanwhile"]),
            new GetMappingHistory(),
            new MappingHistory([new MappingEditSummary(7, At, "status page session from 127.0.0.1", "presenting counts")]),
            new MappingEditSummary(7, At, "status page session from 127.0.0.1", null),
            new PreviewMapping(Table),
            new PreviewResult(12, 1, [change]),
            change,
        ];
    }

    [Fact]
    public void Every_type_has_a_sample_and_round_trips()
    {
        Assert.Equal(MappingSerializer.Types.Select(t => t.Name).Order(), Samples().Select(s => s.GetType().Name).Order());
        using var system = ActorSystem.Create("mapping-serializer-test");
        var serializer = new MappingSerializer((ExtendedActorSystem)system);
        foreach (var sample in Samples())
        {
            var copy = serializer.FromBinary(serializer.ToBinary(sample), serializer.Manifest(sample));
            Assert.Equal(sample.GetType(), copy.GetType());
            Assert.Equal(JsonSerializer.Serialize(sample, sample.GetType(), ManifestJsonSerializer.Json),
                JsonSerializer.Serialize(copy, copy.GetType(), ManifestJsonSerializer.Json));
        }
    }
}
