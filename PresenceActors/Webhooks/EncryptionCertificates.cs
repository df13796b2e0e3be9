using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace PresenceActors.Webhooks;

/// <summary>
/// The certificates rich notifications are encrypted for: the current one (sent with new subscriptions and renewals)
/// and older ones still accepted while Graph may deliver what it encrypted for them. Graph names the certificate by its
/// id. Fixed when they come from a file; with a <see cref="IEncryptionCertificateStore"/> (a cluster) every node loads
/// the same set, reloads it when a notification names one it does not hold, and can rotate it.
/// </summary>
public sealed class EncryptionCertificates
{
    private readonly IEncryptionCertificateStore? _store;
    private readonly SemaphoreSlim _reloading = new(1, 1);
    private volatile Snapshot _snapshot;
    private long _lastReloadStarted; // a Stopwatch timestamp; 0: none yet

    private sealed record Snapshot(X509Certificate2 Current, Dictionary<string, X509Certificate2> ById);

    public EncryptionCertificates(X509Certificate2 current, IEnumerable<X509Certificate2>? previous = null)
    {
        _snapshot = SnapshotOf(current, previous ?? []);
    }

    private EncryptionCertificates(IEncryptionCertificateStore store, IReadOnlyList<StoredCertificate> stored)
    {
        _store = store;
        _snapshot = SnapshotOf(stored[0].Certificate, stored.Skip(1).Select(s => s.Certificate));
    }

    /// <summary>The store's certificates (made by the first node to ask).</summary>
    public static async Task<EncryptionCertificates> FromStoreAsync(IEncryptionCertificateStore store, CancellationToken cancellationToken) =>
        new(store, await store.LoadOrCreateAsync(cancellationToken));

    private static Snapshot SnapshotOf(X509Certificate2 current, IEnumerable<X509Certificate2> previous)
    {
        if (!current.HasPrivateKey || current.GetRSAPrivateKey() is null)
            throw new ArgumentException("The encryption certificate needs an RSA private key to decrypt notifications.", nameof(current));
        var byId = new Dictionary<string, X509Certificate2>(StringComparer.Ordinal);
        foreach (var certificate in new[] { current }.Concat(previous))
            byId.TryAdd(IdOf(certificate), certificate);
        return new Snapshot(current, byId);
    }

    public X509Certificate2 Current => _snapshot.Current;

    public string CurrentId => IdOf(Current);

    /// <summary>The current certificate with its id, from one snapshot (a rotation between two reads cannot mix them).</summary>
    public (X509Certificate2 Certificate, string Id) CurrentWithId
    {
        get
        {
            var current = _snapshot.Current;
            return (current, IdOf(current));
        }
    }

    /// <summary>A notification naming a certificate not held reloads the store at most this often (replays cannot hammer it).</summary>
    public static readonly TimeSpan MissReloadAtMostEvery = TimeSpan.FromSeconds(1);

    /// <summary>The ids accepted now, the current one first.</summary>
    public IReadOnlyList<string> Ids => [CurrentId, .. _snapshot.ById.Keys.Where(id => id != CurrentId)];

    /// <summary>Whether the set lives in a store every node shares, and so can be rotated.</summary>
    public bool Rotatable => _store is not null;

    public static string IdOf(X509Certificate2 certificate) => $"presence-{certificate.Thumbprint[..16].ToLowerInvariant()}";

    public X509Certificate2? Find(string? id, string? thumbprint)
    {
        var snapshot = _snapshot;
        return id is not null && snapshot.ById.TryGetValue(id, out var byId) ? byId
            : snapshot.ById.Values.FirstOrDefault(c => string.Equals(c.Thumbprint, thumbprint, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>
    /// <see cref="Find"/>, and when the certificate is not held, the store's set loaded again first (another node may
    /// have rotated it a moment ago). Null when it is not in the store either.
    /// </summary>
    public async Task<X509Certificate2?> FindOrReloadAsync(string? id, string? thumbprint, CancellationToken cancellationToken)
    {
        var held = Find(id, thumbprint);
        if (held is not null || _store is null)
            return held;
        if (System.Diagnostics.Stopwatch.GetElapsedTime(Interlocked.Read(ref _lastReloadStarted)) >= MissReloadAtMostEvery)
            await ReloadAsync(cancellationToken);
        return Find(id, thumbprint);
    }

    /// <summary>Loads the store's set again; callers that arrive while a load runs share the next one.</summary>
    public async Task ReloadAsync(CancellationToken cancellationToken)
    {
        if (_store is null)
            return;
        var arrived = System.Diagnostics.Stopwatch.GetTimestamp();
        await _reloading.WaitAsync(cancellationToken);
        try
        {
            // A load that began after this caller arrived and succeeded meanwhile saw what this caller needs.
            if (Interlocked.Read(ref _lastReloadStarted) > arrived)
                return;
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            var stored = await _store.LoadOrCreateAsync(cancellationToken);
            _snapshot = SnapshotOf(stored[0].Certificate, stored.Skip(1).Select(s => s.Certificate));
            Interlocked.Exchange(ref _lastReloadStarted, started); // only a load that succeeded counts
        }
        finally
        {
            _reloading.Release();
        }
    }

    /// <summary>Makes a new current certificate in the store; the previous ones stay accepted (see the store).</summary>
    public async Task<string> RotateAsync(CancellationToken cancellationToken)
    {
        if (_store is null)
            throw new InvalidOperationException("The encryption certificate comes from presence.encryption.certificate: replace that file to rotate it (docs/operator-guide.md).");
        var made = await _store.RotateAsync(cancellationToken);
        await ReloadAsync(cancellationToken);
        return IdOf(made.Certificate);
    }

    /// <summary>A new self-signed RSA 2048 certificate, valid two years.</summary>
    public static X509Certificate2 Create(DateTimeOffset now)
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest("CN=PresenceActors notification encryption", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return request.CreateSelfSigned(now.AddMinutes(-5), now.AddYears(2));
    }

    /// <summary>
    /// A warning when a file holding a private key or secret can be read or written by anyone but its owner (group or
    /// others have any permission); null when it is private, missing, or on Windows.
    /// </summary>
    public static string? ExposureOf(string path)
    {
        if (OperatingSystem.IsWindows() || !File.Exists(path))
            return null;
        var mode = File.GetUnixFileMode(path);
        const UnixFileMode others = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
                                    | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;
        if ((mode & others) == 0)
            return null;
        var octal = Convert.ToString((int)mode & 0x1FF, 8);
        return $"{Path.GetFullPath(path)} holds a private key or secret and is accessible to others (mode {octal}); run: chmod 600 '{Path.GetFullPath(path)}'";
    }

    /// <summary>Loads the PFX at <paramref name="path"/>, or makes one there (RSA 2048, 2 years, readable by the owner only) when none exists.</summary>
    public static X509Certificate2 LoadOrCreate(string path, string? password = null)
    {
        if (File.Exists(path))
            return X509CertificateLoader.LoadPkcs12FromFile(path, password, X509KeyStorageFlags.Exportable);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        using var made = Create(DateTimeOffset.UtcNow);
        var pfx = made.Export(X509ContentType.Pfx, password);
        WriteOwnerOnly(path, pfx);
        return X509CertificateLoader.LoadPkcs12(pfx, password, X509KeyStorageFlags.Exportable);
    }

    /// <summary>
    /// Writes a new file readable and writable by its owner only from the moment it exists (created with that mode,
    /// not changed afterwards, so no other user can open it in between); fails when the file exists.
    /// </summary>
    public static void WriteOwnerOnly(string path, ReadOnlySpan<byte> content)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using var file = new FileStream(path, options);
        file.Write(content);
    }
}
