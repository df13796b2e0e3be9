using Npgsql;

namespace PresenceActors.Tests.Support;

/// <summary>
/// A fresh PostgreSQL database for one test, dropped afterwards. The server is the machine's PostgreSQL 15 (`.ci/run`
/// starts it and creates the role); PRESENCE_TEST_POSTGRES names another one.
/// </summary>
internal sealed class PostgresDatabase : IAsyncDisposable
{
    public static string Server => Environment.GetEnvironmentVariable("PRESENCE_TEST_POSTGRES")
                                   ?? "Host=127.0.0.1;Port=5432;Username=presence;Password=presence-test;Database=postgres;Timeout=5";

    private PostgresDatabase(string name, string connectionString)
    {
        Name = name;
        ConnectionString = connectionString;
    }

    public string Name { get; }

    public string ConnectionString { get; }

    public static async Task<PostgresDatabase> CreateAsync()
    {
        var name = $"presence_t_{Guid.NewGuid():N}";
        await using (var admin = new NpgsqlConnection(Server))
        {
            await admin.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {name}", admin);
            await create.ExecuteNonQueryAsync();
        }

        var builder = new NpgsqlConnectionStringBuilder(Server) { Database = name };
        return new PostgresDatabase(name, builder.ConnectionString);
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await using var admin = new NpgsqlConnection(Server);
        await admin.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {Name} WITH (FORCE)", admin);
        await drop.ExecuteNonQueryAsync();
    }
}
