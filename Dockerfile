# syntax=docker/dockerfile:1
# One small non-root image with both binaries: `web` (HTTP API, default) and
# `worker` (WebSockets, sweeper, outbox relay). Pure Go (SQLite included), so
# CGO is off and the final stage is distroless/static.

FROM golang:1.26 AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-mod=readonly
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -trimpath -ldflags "-s -w" -o /out/web ./cmd/web && \
    go build -trimpath -ldflags "-s -w" -o /out/worker ./cmd/worker

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/web /out/worker /usr/local/bin/
# The working directory is writable by the nonroot user (local-mode SQLite file,
# development key); production sets DATABASE_URL and REDIS_URL.
WORKDIR /home/nonroot
USER nonroot:nonroot
ENV PORT=8000
EXPOSE 8000
ENTRYPOINT []
CMD ["web", "serve"]
