using System.ComponentModel;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace PresenceActors.Host;

/// <summary>A typed request body that checks itself once bound: the first problem, naming its field, or null.</summary>
public interface IRequestRecord
{
    (string Field, string Detail)? Check();
}

/// <summary>
/// The one way a JSON request body becomes a typed record on our HTTP surfaces (the internal API, the admin port): the
/// content type, the endpoint's body limit, UTF-8, System.Text.Json binding, then the record's own
/// <see cref="IRequestRecord.Check"/>. Every refusal is an <see cref="HttpProblem"/> naming the field: a value of the
/// wrong type by its JSON path ("onPhone", "[3].at", "mapping.teamsToUc") and what the record's
/// <see cref="DescriptionAttribute"/> says it holds. Values are never echoed (one may be a secret).
/// </summary>
internal static class JsonRequest
{
    // Web defaults: camelCase, names matched without regard to case. The internal API ignores members it does not know
    // (a newer UC back end may send more); an admin action refuses them (a mistyped parameter must not be ignored).
    private static readonly JsonSerializerOptions Lenient = new(JsonSerializerDefaults.Web) { MaxDepth = 16 };
    private static readonly JsonSerializerOptions Strict = new(JsonSerializerDefaults.Web) { MaxDepth = 16, UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow };

    public readonly record struct Bound<T>(T? Value, IResult? Problem);

    /// <summary>One record (a JSON object) of the internal API.</summary>
    public static async Task<Bound<T>> ReadAsync<T>(HttpContext context, long maxBytes) where T : class, IRequestRecord
    {
        var (value, problem) = await BindAsync<T>(context, maxBytes, $"a JSON object: {Shape(typeof(T))}", Lenient, empty: null);
        if (problem is not null)
            return new Bound<T>(null, problem);
        return value!.Check() is { } invalid ? new Bound<T>(null, HttpProblem.Of(400, invalid.Field, invalid.Detail)) : new Bound<T>(value, null);
    }

    /// <summary>A list of records (a JSON array) of the internal API; each record's problem is named with its index ("[3].at").</summary>
    public static async Task<Bound<List<T>>> ReadListAsync<T>(HttpContext context, long maxBytes) where T : class, IRequestRecord
    {
        var (items, problem) = await BindAsync<List<T?>>(context, maxBytes, $"a JSON array of {Shape(typeof(T))} objects", Lenient, empty: null);
        if (problem is not null)
            return new Bound<List<T>>(null, problem);
        for (var i = 0; i < items!.Count; i++)
        {
            if (items[i] is not { } item)
                return new Bound<List<T>>(null, HttpProblem.Of(400, $"[{i}]", "Each entry must be an object."));
            if (item.Check() is { } invalid)
                return new Bound<List<T>>(null, HttpProblem.Of(400, $"[{i}].{invalid.Field}", invalid.Detail));
        }

        return new Bound<List<T>>(items!, null);
    }

    /// <summary>An admin action's parameters: members it does not have are refused, and an empty body reads as <c>{}</c>.</summary>
    public static Task<(T? Value, IResult? Problem)> ReadParametersAsync<T>(HttpContext context, long maxBytes) where T : class, new() =>
        BindAsync<T>(context, maxBytes, "a JSON object of this action's parameters", Strict, empty: () => new T());

    private static async Task<(TBody? Value, IResult? Problem)> BindAsync<TBody>(
        HttpContext context, long maxBytes, string shape, JsonSerializerOptions options, Func<TBody>? empty)
    {
        ReadOnlyMemory<byte>? body;
        try
        {
            body = await RequestBody.ReadAsync(context, maxBytes);
        }
        catch (BadHttpRequestException e)
        {
            return (default, HttpProblem.Of(e.StatusCode, "body", e.Message));
        }

        if (body is null)
            return (default, HttpProblem.Of(413, "body", $"The body is larger than {maxBytes} bytes."));
        if (body.Value.Length == 0 && empty is not null)
            return (empty(), null);
        if (!context.Request.HasJsonContentType())
            return (default, HttpProblem.Of(415, "Content-Type", "Send the body as application/json."));
        if (!System.Text.Unicode.Utf8.IsValid(body.Value.Span))
            return (default, HttpProblem.Of(400, "body", "The body is not valid UTF-8."));
        try
        {
            var value = JsonSerializer.Deserialize<TBody>(body.Value.Span, options);
            return value is null ? (default, HttpProblem.Of(400, "body", $"The body must be {shape}.")) : (value, null);
        }
        catch (JsonException e)
        {
            return (default, WrongValue(e, shape, typeof(TBody)));
        }
    }

    /// <summary>The field a binding failure is about, from its JSON path, and what that field must hold.</summary>
    private static IResult WrongValue(JsonException e, string shape, Type body)
    {
        // "$" or "$[2]": the body or an entry has the wrong shape (or is not JSON at all); "$.onPhone", "$[2].onPhone",
        // "$.mapping.teamsToUc[0].activity": a member.
        var path = e.Path is { Length: > 1 } p ? p[1..].TrimStart('.') : "";
        var segments = path.Split('.', StringSplitOptions.RemoveEmptyEntries);
        var name = segments.Select(s => s.Split('[')[0]).LastOrDefault(s => s.Length > 0);
        if (name is null)
        {
            return path.Length == 0
                ? HttpProblem.Of(400, "body", $"The body is not valid JSON, or not {shape} (line {e.LineNumber + 1 ?? 1}, byte {e.BytePositionInLine + 1 ?? 1}).")
                : HttpProblem.Of(400, path, "Each entry must be an object.");
        }

        // The binder's own words say what went wrong without the value ("could not be converted to System.Boolean").
        var reason = e.Message.Split(" Path:")[0];
        return Member(body, segments) switch
        {
            null => HttpProblem.Of(400, path, $"{name} is not a field here: check its spelling ({reason})."),
            { } member when member.GetCustomAttribute<DescriptionAttribute>() is { } description => HttpProblem.Of(400, path, $"{name} must be {description.Description}."),
            _ => HttpProblem.Of(400, path, $"{name} has the wrong type or shape ({reason})."),
        };
    }

    /// <summary>The member a JSON path leads to through the body's types, or null when one of its names is not a member.</summary>
    private static PropertyInfo? Member(Type type, IEnumerable<string> segments)
    {
        PropertyInfo? member = null;
        foreach (var segment in segments)
        {
            var name = segment.Split('[')[0];
            if (name.Length > 0)
            {
                member = type.GetProperty(name, BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
                if (member is null)
                    return null;
                type = member.PropertyType;
            }

            if (segment.Contains('['))
                type = type.IsArray ? type.GetElementType()! : type.IsGenericType ? type.GetGenericArguments()[^1] : type;
        }

        return member;
    }

    /// <summary>{"status", "onPhone", "at"}: the members of a record, for a message about the body's shape.</summary>
    private static string Shape(Type record) =>
        "{" + string.Join(", ", record.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.GetCustomAttribute<DescriptionAttribute>() is not null)
            .Select(p => $"\"{JsonNamingPolicy.CamelCase.ConvertName(p.Name)}\"")) + "}";
}
