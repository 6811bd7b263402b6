# syntax=docker/dockerfile:1
# One small non-root image with both binaries: `web` (HTTP API, default) and
# `worker` (WebSockets, sweeper, outbox relay). Pure Go (SQLite included), so
# CGO is off and the binaries are static.

FROM golang:1.26 AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-mod=readonly
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -trimpath -ldflags "-s -w" -o /out/web ./cmd/web && \
    go build -trimpath -ldflags "-s -w" -o /out/worker ./cmd/worker

# Alpine (not distroless) so operators have a shell for one-off commands
# (`web seed`, `web staff <userid>`) in the platform's console.
FROM alpine:3.22
RUN apk add --no-cache ca-certificates tzdata && \
    addgroup -S -g 10001 hermez && \
    adduser -S -D -u 10001 -G hermez -h /home/hermez hermez
COPY --from=build /out/web /out/worker /usr/local/bin/
# The working directory is writable by the non-root user (local-mode SQLite
# file, development key); production sets DATABASE_URL and REDIS_URL.
WORKDIR /home/hermez
USER 10001:10001
ENV PORT=8000
EXPOSE 8000
CMD ["web", "serve"]
