using System.Security.Cryptography;
using System.Text;
using PresenceActors.Subscriptions;
using Xunit;

namespace PresenceActors.Tests.Subscriptions;

/// <summary>
/// clientStates already held by Graph's subscriptions and key ids already journaled stay valid across releases: the
/// values are rebuilt here the way the first releases wrote them (padded base64 made URL-safe by hand).
/// </summary>
public class ClientStateSignerTests
{
    private static readonly byte[] Key = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();

    private static string OldBase64Url(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    [Fact]
    public void A_key_id_and_an_account_tag_are_what_earlier_releases_wrote()
    {
        Assert.Equal(OldBase64Url(SHA256.HashData([.. "PresenceActors clientState key id:"u8, .. Key])[..6]), ClientStateSigner.KeyIdOf(Key));
        Assert.Equal(OldBase64Url(SHA256.HashData("tech1@contoso.com"u8.ToArray())[..9]), ClientStateSigner.TagOf("Tech1@Contoso.com"));
    }

    [Fact]
    public void A_first_version_clientState_verifies_and_names_its_account_and_a_changed_mac_does_not()
    {
        var tag = ClientStateSigner.TagOf("tech1@contoso.com");
        var nonce = OldBase64Url(RandomNumberGenerator.GetBytes(12));
        var mac = HMACSHA256.HashData(Key, Encoding.UTF8.GetBytes($"{tag}.{nonce}"));
        var signer = new ClientStateSigner(Key);

        Assert.True(signer.Verify($"v1.{tag}.{nonce}.{OldBase64Url(mac)}", out var account, out var keyId));
        Assert.Equal(tag, account);
        Assert.Null(keyId);

        mac[0] ^= 1;
        Assert.False(signer.Verify($"v1.{tag}.{nonce}.{OldBase64Url(mac)}"));
    }

    [Theory]
    [InlineData("v2.AAAAAAAA.tag.nonce.not base64!")]
    [InlineData("v2.AAAAAAAA.tag.nonce.A")]
    [InlineData("v2.AAAAAAAA.tag.nonce.AAAA====")]
    [InlineData("v1.tag.nonce.+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/")]
    [InlineData("v1.tag.nonce.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    public void A_mac_that_is_no_base64url_of_32_bytes_is_refused_without_an_exception(string clientState)
    {
        var signer = new ClientStateSigner(Key);
        var withKey = clientState.Replace("AAAAAAAA", ClientStateSigner.KeyIdOf(Key));
        Assert.False(signer.Verify(withKey));
    }

    [Fact]
    public void A_clientState_made_now_verifies_with_its_key_and_account_and_not_with_another_key()
    {
        var clientState = new ClientStateSigner(Key).Create("tech1@contoso.com");

        Assert.True(new ClientStateSigner(Key).Verify(clientState, out var account, out var keyId));
        Assert.Equal(ClientStateSigner.TagOf("tech1@contoso.com"), account);
        Assert.Equal(ClientStateSigner.KeyIdOf(Key), keyId);
        Assert.False(new ClientStateSigner(RandomNumberGenerator.GetBytes(32)).Verify(clientState));
    }
}
