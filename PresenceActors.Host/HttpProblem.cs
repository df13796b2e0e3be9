namespace PresenceActors.Host;

/// <summary>
/// The one shape of an error answer on every HTTP surface (internal API, admin, webhook): application/problem+json with
/// the field or key at fault named in <c>field</c> and a detail a person can act on. Written by ASP.NET Core's
/// problem-details service (<c>AddProblemDetails</c> in Observability.cs), which adds the request's trace id.
/// </summary>
internal static class HttpProblem
{
    public static IResult Of(int status, string field, string detail) =>
        Results.Problem(detail: detail, statusCode: status,
            title: status switch { 401 => "Unauthorized", 403 => "Forbidden", >= 500 => $"Not available now: {field}", _ => $"Invalid {field}" },
            extensions: new Dictionary<string, object?> { ["field"] = field });
}
