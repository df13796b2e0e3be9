using System.Data.Common;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Npgsql;

namespace PresenceActors.Webhooks;

/// <summary>A notification encryption certificate as the cluster keeps it: with its private key, and when it was made.</summary>
public sealed record StoredCertificate(X509Certificate2 Certificate, DateTimeOffset CreatedAt);

/// <summary>Where a cluster's notification encryption certificates live, so that every node holds the same ones.</summary>
public interface IEncryptionCertificateStore
{
    /// <summary>The certificates in use, newest (the current one) first; the first caller on an empty store makes one.</summary>
    Task<IReadOnlyList<StoredCertificate>> LoadOrCreateAsync(CancellationToken cancellationToken);

    /// <summary>Makes a new current certificate; the one it replaces stays in use for <see cref="EncryptionCertificateStore.KeepSuperseded"/>.</summary>
    Task<StoredCertificate> RotateAsync(CancellationToken cancellationToken);
}

/// <summary>
/// The cluster's notification encryption certificates in the shared PostgreSQL database (docs/operator-guide.md,
/// "Cluster-wide secrets"): the first node to start makes one, every node loads the same. At rest each PFX is sealed
/// with AES-256-GCM under a key derived (HKDF-SHA256) from presence.clientState.key, which the operator gives every node
/// and which never enters the database: a copy of the database alone does not reveal a private key. A certificate
/// replaced by a rotation stays in use for <see cref="KeepSuperseded"/> (Graph retries a delivery for up to 4 hours);
/// after that nodes no longer load it, and the next rotation deletes it.
/// </summary>
/// <param name="importFile">A certificate file the node used before the store (data/encryption.pfx): an empty store
/// starts with it, so that subscriptions made with it still decrypt after an upgrade.</param>
public sealed class EncryptionCertificateStore(string connectionString, byte[] clusterKey, TimeProvider? clock = null, string? importFile = null,
    string? importPassword = null, IReadOnlyList<byte[]>? previousKeys = null, IReadOnlyList<byte[]>? nextKeys = null) : IEncryptionCertificateStore
{
    public const string Table = "presence_encryption_certificates";

    /// <summary>How long a replaced certificate still decrypts what Graph encrypted for it.</summary>
    public static readonly TimeSpan KeepSuperseded = TimeSpan.FromHours(24);

    private readonly byte[] _sealingKey = SealingKey(clusterKey);

    /// <summary>
    /// Certificates sealed before a rotation of presence.clientState.key open with the keys it replaced, and are sealed
    /// again with the current key when loaded; those sealed by nodes already on the next key open with it (and are left
    /// as they are).
    /// </summary>
    private readonly IReadOnlyList<byte[]> _previousSealingKeys = [.. (previousKeys ?? []).Select(SealingKey)];

    private readonly IReadOnlyList<byte[]> _nextSealingKeys = [.. (nextKeys ?? []).Select(SealingKey)];

    private static byte[] SealingKey(byte[] clusterKey) =>
        HKDF.DeriveKey(HashAlgorithmName.SHA256, clusterKey, 32, info: Encoding.UTF8.GetBytes("PresenceActors encryption certificates at rest v1"));

    private readonly TimeProvider _clock = clock ?? TimeProvider.System;

    public Task<IReadOnlyList<StoredCertificate>> LoadOrCreateAsync(CancellationToken cancellationToken) =>
        InTransactionAsync(async (connection, transaction) =>
        {
            var rows = await ReadAsync(connection, transaction, cancellationToken);
            if (rows.Count == 0)
                return (IReadOnlyList<StoredCertificate>)[await InsertAsync(connection, transaction, cancellationToken, importFile)];
            var loaded = new List<StoredCertificate>();
            foreach (var row in InUse(rows))
            {
                var pfx = Open(row.Id, row.Sealed, out var replacedKey);
                if (replacedKey)
                {
                    // Sealed with a key the rotation replaced: sealed again with the current one, so that the replaced key
                    // can leave presence.clientState.previousKeys without locking any node out.
                    await using var reseal = Command(connection, transaction, $"UPDATE {Table} SET sealed = @sealed WHERE id = @id");
                    reseal.Parameters.Add(new NpgsqlParameter("sealed", Seal(row.Id, pfx)));
                    reseal.Parameters.Add(new NpgsqlParameter("id", row.Id));
                    await reseal.ExecuteNonQueryAsync(cancellationToken);
                }

                loaded.Add(new StoredCertificate(X509CertificateLoader.LoadPkcs12(pfx, null, X509KeyStorageFlags.Exportable), row.CreatedAt));
            }

            return (IReadOnlyList<StoredCertificate>)loaded;
        }, cancellationToken);

    public Task<StoredCertificate> RotateAsync(CancellationToken cancellationToken) =>
        InTransactionAsync(async (connection, transaction) =>
        {
            var made = await InsertAsync(connection, transaction, cancellationToken);
            var rows = await ReadAsync(connection, transaction, cancellationToken);
            foreach (var expired in rows.Except(InUse(rows)))
            {
                await using var delete = Command(connection, transaction, $"DELETE FROM {Table} WHERE id = @id");
                delete.Parameters.Add(new NpgsqlParameter("id", expired.Id));
                await delete.ExecuteNonQueryAsync(cancellationToken);
            }

            return made;
        }, cancellationToken);

    private sealed record Row(string Id, byte[] Sealed, DateTimeOffset CreatedAt);

    /// <summary>
    /// The newest, and those replaced less than <see cref="KeepSuperseded"/> ago; newest first. Only these are opened:
    /// an expired row left behind (deleted at the next rotation) never needs the key.
    /// </summary>
    private List<Row> InUse(List<Row> newestFirst)
    {
        var now = _clock.GetUtcNow();
        return newestFirst.Where((c, i) => i == 0 || now - newestFirst[i - 1].CreatedAt < KeepSuperseded).ToList();
    }

    private async Task<T> InTransactionAsync<T>(Func<NpgsqlConnection, NpgsqlTransaction, Task<T>> work, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using (var create = new NpgsqlCommand(
                         $"CREATE TABLE IF NOT EXISTS {Table} (id TEXT PRIMARY KEY, sealed BYTEA NOT NULL, created_at TIMESTAMPTZ NOT NULL)", connection))
        {
            try
            {
                await create.ExecuteNonQueryAsync(cancellationToken);
            }
            catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.UniqueViolation or PostgresErrorCodes.DuplicateTable)
            {
                // Two nodes starting together both created it: it exists.
            }
        }

        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        // One node at a time reads and changes the set: two nodes starting on an empty store make one certificate, not two.
        await using (var lockTable = Command(connection, transaction, $"LOCK TABLE {Table} IN EXCLUSIVE MODE"))
            await lockTable.ExecuteNonQueryAsync(cancellationToken);
        var result = await work(connection, transaction);
        await transaction.CommitAsync(cancellationToken);
        return result;
    }

    private static NpgsqlCommand Command(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql) => new(sql, connection, transaction);

    private static async Task<List<Row>> ReadAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        var found = new List<Row>();
        await using var select = Command(connection, transaction, $"SELECT id, sealed, created_at FROM {Table} ORDER BY created_at DESC, id DESC");
        await using DbDataReader reader = await select.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            found.Add(new Row(reader.GetString(0), (byte[])reader.GetValue(1), reader.GetFieldValue<DateTimeOffset>(2)));
        return found;
    }

    private async Task<StoredCertificate> InsertAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken,
        string? firstFrom = null)
    {
        var now = _clock.GetUtcNow();
        using var made = firstFrom is not null && File.Exists(firstFrom)
            ? X509CertificateLoader.LoadPkcs12FromFile(firstFrom, importPassword, X509KeyStorageFlags.Exportable)
            : EncryptionCertificates.Create(now);
        var pfx = made.Export(X509ContentType.Pfx);
        var certificate = X509CertificateLoader.LoadPkcs12(pfx, null, X509KeyStorageFlags.Exportable);
        var id = EncryptionCertificates.IdOf(certificate);
        await using var insert = Command(connection, transaction, $"INSERT INTO {Table} (id, sealed, created_at) VALUES (@id, @sealed, @created)");
        insert.Parameters.Add(new NpgsqlParameter("id", id));
        insert.Parameters.Add(new NpgsqlParameter("sealed", Seal(id, pfx)));
        insert.Parameters.Add(new NpgsqlParameter("created", now.UtcDateTime));
        await insert.ExecuteNonQueryAsync(cancellationToken);
        CryptographicOperations.ZeroMemory(pfx);
        return new StoredCertificate(certificate, now);
    }

    /// <summary>nonce (12) | tag (16) | ciphertext, the certificate's id bound in as associated data.</summary>
    private byte[] Seal(string id, byte[] plaintext)
    {
        var sealedBytes = new byte[12 + 16 + plaintext.Length];
        var nonce = sealedBytes.AsSpan(0, 12);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(_sealingKey, 16);
        aes.Encrypt(nonce, plaintext, sealedBytes.AsSpan(28), sealedBytes.AsSpan(12, 16), Encoding.UTF8.GetBytes(id));
        return sealedBytes;
    }

    /// <param name="replacedKey">Whether it opened with a replaced key (and should be sealed again with the current one).</param>
    private byte[] Open(string id, byte[] sealedBytes, out bool replacedKey)
    {
        var plaintext = new byte[sealedBytes.Length - 28];
        foreach (var key in _previousSealingKeys.Prepend(_sealingKey).Concat(_nextSealingKeys))
        {
            using var aes = new AesGcm(key, 16);
            try
            {
                aes.Decrypt(sealedBytes.AsSpan(0, 12), sealedBytes.AsSpan(28), sealedBytes.AsSpan(12, 16), plaintext, Encoding.UTF8.GetBytes(id));
                replacedKey = _previousSealingKeys.Contains(key);
                return plaintext;
            }
            catch (AuthenticationTagMismatchException)
            {
                // Sealed with another key: try the next one held.
            }
        }

        throw new InvalidOperationException(
            $"The cluster's encryption certificate {id} in table {Table} was sealed with another presence.clientState.key: give this node the key the other nodes have (or, during a rotation, the replaced one in presence.clientState.previousKeys).");
    }
}
