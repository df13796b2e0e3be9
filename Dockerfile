# Multi-stage build of one Facade node (the simulators ride along for the compose file's demo profile).
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY . .
RUN dotnet publish PresenceActors.Host/PresenceActors.Host.csproj -c Release -o /app \
 && dotnet publish PresenceActors.Simulators/PresenceActors.Simulators.csproj -c Release -o /app

FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /app .
RUN mkdir -p /data && chown app:app /data
USER app
# 8443 public webhook (TLS) · 10443 internal API (TLS) · 4053 Akka remoting · 9110 admin (on loopback unless
# presence.admin.address says otherwise, as the compose file does for Prometheus; then it needs presence.admin.token).
EXPOSE 8443 10443 4053
ENTRYPOINT ["dotnet", "PresenceActors.Host.dll"]
CMD ["run", "--config", "/config/application.properties"]
