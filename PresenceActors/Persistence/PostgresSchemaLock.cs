using System.Data.Common;
using LinqToDB.Interceptors;

namespace PresenceActors.Persistence;

/// <summary>
/// Makes the journal's and snapshot store's own <c>CREATE TABLE IF NOT EXISTS</c> wait for each other across nodes
/// (docs/decisions.md, "Creating the tables once"). PostgreSQL's IF NOT EXISTS is not safe against a concurrent
/// creation: nodes of a new cluster starting together met <c>duplicate key value violates unique constraint
/// "pg_type_typname_nsp_index"</c>, and the plugin logged an error and restarted. Each such command first takes a
/// transaction-scoped advisory lock; Npgsql runs the statements of one command in one implicit transaction, so the lock is
/// held until the table exists and the next node's IF NOT EXISTS finds it.
/// </summary>
public sealed class PostgresSchemaLock : CommandInterceptor
{
    /// <summary>The advisory lock's key, the same on every node ("Presence" in ASCII).</summary>
    public const long LockKey = 0x5072_6573_656E_6365;

    public override DbCommand CommandInitialized(CommandEventData eventData, DbCommand command)
    {
        // Every command of the journal passes here: a look at its first word, no copy of the text.
        if (command.CommandText.AsSpan().TrimStart().StartsWith("CREATE ", StringComparison.OrdinalIgnoreCase))
            command.CommandText = $"SELECT pg_advisory_xact_lock({LockKey});\n{command.CommandText}";
        return command;
    }
}
