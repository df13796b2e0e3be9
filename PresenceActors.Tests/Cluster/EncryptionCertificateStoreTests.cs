using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using PresenceActors.Tests.Support;
using PresenceActors.Webhooks;
using Xunit;

namespace PresenceActors.Tests.Cluster;

/// <summary>The cluster's encryption certificates in PostgreSQL: one set for every node, sealed at rest, rotated.</summary>
public class EncryptionCertificateStoreTests
{
    [Fact]
    public async Task Nodes_share_one_certificate_an_upgraded_nodes_file_comes_first_rotation_keeps_the_old_and_a_wrong_key_is_named()
    {
        await using var database = await PostgresDatabase.CreateAsync();
        var key = RandomNumberGenerator.GetBytes(32);
        var folder = Directory.CreateTempSubdirectory("presence-store-").FullName;
        try
        {
            // A node upgraded from its own file: the empty store starts with that certificate.
            var file = Path.Combine(folder, "encryption.pfx");
            using var own = EncryptionCertificates.LoadOrCreate(file);
            var first = await new EncryptionCertificateStore(database.ConnectionString, key, importFile: file).LoadOrCreateAsync(CancellationToken.None);
            Assert.Equal(own.Thumbprint, Assert.Single(first).Certificate.Thumbprint);

            // Two more nodes starting together get the same one, with its private key.
            var loads = await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => new EncryptionCertificateStore(database.ConnectionString, key).LoadOrCreateAsync(CancellationToken.None)));
            Assert.All(loads, l => Assert.Equal(own.Thumbprint, Assert.Single(l).Certificate.Thumbprint));
            Assert.True(loads[0][0].Certificate.HasPrivateKey);

            // At rest the private key is sealed: the row does not hold the PFX.
            await using (var connection = new Npgsql.NpgsqlConnection(database.ConnectionString))
            {
                await connection.OpenAsync();
                await using var read = new Npgsql.NpgsqlCommand($"SELECT sealed FROM {EncryptionCertificateStore.Table}", connection);
                var stored = (byte[])(await read.ExecuteScalarAsync())!;
                Assert.ThrowsAny<CryptographicException>(() => X509CertificateLoader.LoadPkcs12(stored, null));
            }

            // A rotation: the new one is current, the old one still accepted.
            var store = new EncryptionCertificateStore(database.ConnectionString, key);
            var rotated = await store.RotateAsync(CancellationToken.None);
            var after = await store.LoadOrCreateAsync(CancellationToken.None);
            Assert.Equal([rotated.Certificate.Thumbprint, own.Thumbprint], after.Select(c => c.Certificate.Thumbprint));

            // A node given another clientState key cannot open them, and says which key to fix.
            var wrong = await Assert.ThrowsAsync<InvalidOperationException>(() =>
                new EncryptionCertificateStore(database.ConnectionString, RandomNumberGenerator.GetBytes(32)).LoadOrCreateAsync(CancellationToken.None));
            Assert.Contains("presence.clientState.key", wrong.Message);

            // A rotation of the clientState key. Step 1, the new key announced: a node still on the old key opens what a node
            // already on the new key sealed, and leaves it as it is.
            var newKey = RandomNumberGenerator.GetBytes(32);
            var announced = new EncryptionCertificateStore(database.ConnectionString, key, nextKeys: [newKey]);
            Assert.Equal(after.Select(c => c.Certificate.Thumbprint), (await announced.LoadOrCreateAsync(CancellationToken.None)).Select(c => c.Certificate.Thumbprint));
            // Step 2, the new key current and the old one replaced: the certificates open and are sealed again with the new
            // key, so that after step 3 (the old key removed) a node with the new key alone opens them all.
            var rotating = new EncryptionCertificateStore(database.ConnectionString, newKey, previousKeys: [key]);
            Assert.Equal(after.Select(c => c.Certificate.Thumbprint), (await rotating.LoadOrCreateAsync(CancellationToken.None)).Select(c => c.Certificate.Thumbprint));
            Assert.Equal(after.Select(c => c.Certificate.Thumbprint),
                (await new EncryptionCertificateStore(database.ConnectionString, newKey).LoadOrCreateAsync(CancellationToken.None)).Select(c => c.Certificate.Thumbprint));
            // A node given only the old key no longer opens them, and says which key to look at.
            var oldOnly = await Assert.ThrowsAsync<InvalidOperationException>(() => new EncryptionCertificateStore(database.ConnectionString, key).LoadOrCreateAsync(CancellationToken.None));
            Assert.Contains("presence.clientState.previousKeys", oldOnly.Message);
            // Still on the old key with the new one announced, it opens them (sealed with the next key) and seals nothing back.
            Assert.Equal(after.Select(c => c.Certificate.Thumbprint), (await announced.LoadOrCreateAsync(CancellationToken.None)).Select(c => c.Certificate.Thumbprint));
            Assert.Equal(after.Select(c => c.Certificate.Thumbprint),
                (await new EncryptionCertificateStore(database.ConnectionString, newKey).LoadOrCreateAsync(CancellationToken.None)).Select(c => c.Certificate.Thumbprint));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
