using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace PresenceActors.Webhooks;

/// <summary>
/// The certificates rich notifications are encrypted for: the current one (sent with new subscriptions) and older ones
/// still accepted while subscriptions created with them live on. Graph names the certificate by its id.
/// </summary>
public sealed class EncryptionCertificates
{
    private readonly Dictionary<string, X509Certificate2> _byId;

    public EncryptionCertificates(X509Certificate2 current, IEnumerable<X509Certificate2>? previous = null)
    {
        if (!current.HasPrivateKey || current.GetRSAPrivateKey() is null)
            throw new ArgumentException("The encryption certificate needs an RSA private key to decrypt notifications.", nameof(current));
        Current = current;
        _byId = new[] { current }.Concat(previous ?? []).ToDictionary(IdOf, StringComparer.Ordinal);
    }

    public X509Certificate2 Current { get; }

    public string CurrentId => IdOf(Current);

    public static string IdOf(X509Certificate2 certificate) => $"presence-{certificate.Thumbprint[..16].ToLowerInvariant()}";

    public X509Certificate2? Find(string? id, string? thumbprint) =>
        id is not null && _byId.TryGetValue(id, out var byId) ? byId
        : _byId.Values.FirstOrDefault(c => string.Equals(c.Thumbprint, thumbprint, StringComparison.OrdinalIgnoreCase));

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
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest("CN=PresenceActors notification encryption", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var made = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddYears(2));
        var pfx = made.Export(X509ContentType.Pfx, password);
        using (var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write))
        {
            if (!OperatingSystem.IsWindows())
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            file.Write(pfx);
        }

        return X509CertificateLoader.LoadPkcs12(pfx, password, X509KeyStorageFlags.Exportable);
    }
}
