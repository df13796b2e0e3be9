using System.ComponentModel;

namespace PresenceActors.Host.UcApi;

// The internal API's request bodies (docs/operator-guide.md, "Reverse proxy (HAProxy)", where its calls are listed),
// bound by JsonRequest. Every member is nullable so that a missing one is named by Check, not by the binder.

/// <summary>PUT /api/v1/users/{ucUserId}: the Teams user a UC user is.</summary>
public sealed record RegistrationRequest(
    [property: Description("a non-empty string: the Entra object id, user principal name or mail address")] string? TeamsUser) : IRequestRecord
{
    public (string Field, string Detail)? Check() => UcApiRequests.Required(TeamsUser, "teamsUser");
}

/// <summary>One entry of PUT /api/v1/users, the full list of registrations.</summary>
public sealed record RegistrationEntry(
    [property: Description("a non-empty string: the UC user id")] string? UcUserId,
    [property: Description("a non-empty string: the Entra object id, user principal name or mail address")] string? TeamsUser) : IRequestRecord
{
    public (string Field, string Detail)? Check() => UcApiRequests.Required(UcUserId, "ucUserId") ?? UcApiRequests.Required(TeamsUser, "teamsUser");
}

/// <summary>POST /api/v1/users/{ucUserId}/presence: one user's UC status as it changes.</summary>
public sealed record PresenceReport(
    [property: Description("a non-empty string of at most 100 characters: the UC status")] string? Status,
    [property: Description("true or false")] bool? OnPhone,
    [property: Description("an ISO 8601 timestamp, e.g. 2026-11-26T09:30:00Z")] DateTimeOffset? At) : IRequestRecord
{
    public (string Field, string Detail)? Check() => UcApiRequests.CheckReport(Status, OnPhone);
}

/// <summary>One entry of POST /api/v1/presence, every user's current status (to reconcile).</summary>
public sealed record PresenceListEntry(
    [property: Description("a non-empty string: the UC user id")] string? UcUserId,
    [property: Description("a non-empty string of at most 100 characters: the UC status")] string? Status,
    [property: Description("true or false")] bool? OnPhone,
    [property: Description("an ISO 8601 timestamp, e.g. 2026-11-26T09:30:00Z")] DateTimeOffset? At) : IRequestRecord
{
    // A list of everyone's status must say when each was read: stamped on arrival, a list built before a user's own
    // later report would overrule it.
    public (string Field, string Detail)? Check()
    {
        if ((UcApiRequests.Required(UcUserId, "ucUserId") ?? UcApiRequests.CheckReport(Status, OnPhone)) is { } invalid)
            return invalid;
        return At is null ? ("at", "at is required in a list: when the UC back end read this status (ISO 8601).") : null;
    }
}

/// <summary>PUT /api/v1/users/{ucUserId}/sync: whether the user is synchronised (docs/mapping.md, "Leaving a user out").</summary>
public sealed record SyncRequest([property: Description("true or false")] bool? Enabled) : IRequestRecord
{
    public (string Field, string Detail)? Check() =>
        Enabled is null ? ("enabled", "enabled is required: true to synchronise the user, false to leave them out.") : default((string, string)?);
}

internal static class UcApiRequests
{
    public static (string Field, string Detail)? Required(string? value, string field) =>
        string.IsNullOrWhiteSpace(value) ? (field, $"{field} is required and must be a non-empty string.") : null;

    public static (string Field, string Detail)? CheckReport(string? status, bool? onPhone)
    {
        if (Required(status, "status") is { } missing)
            return missing;
        if (status!.Length > 100)
            return ("status", "status must be at most 100 characters.");
        return onPhone is null ? ("onPhone", "onPhone is required and must be true or false.") : null;
    }
}
