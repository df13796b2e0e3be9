using PresenceActors.Graph;
using Xunit;

namespace PresenceActors.Tests.Graph;

/// <summary>The <c>api</c> label of <c>presence_graph_calls_total</c>: a few names, never a user.</summary>
public class GraphCallMetricsTests
{
    [Theory]
    [InlineData("GET", "https://graph.microsoft.com/v1.0/users/alex%40contoso.com", "get users")]
    [InlineData("GET", "https://graph.microsoft.com/v1.0/users/alex@contoso.com", "get users")]
    [InlineData("POST", "https://graph.microsoft.com/v1.0/users/9773e0c4-c508-47c5-b568-d08ee0dabbce/presence/setPresence", "post setPresence")]
    [InlineData("PATCH", "https://graph.microsoft.com/v1.0/subscriptions/9773e0c4-c508-47c5-b568-d08ee0dabbce", "patch subscriptions")]
    public void The_api_label_names_the_call_and_never_the_user(string method, string url, string expected)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), url);
        Assert.Equal(expected, GraphCallMetrics.ApiOf(request));
    }
}
