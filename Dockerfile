# syntax=docker/dockerfile:1

# Build stage: static binaries, so the runtime image needs no libc.
FROM golang:1.26-bookworm AS build
WORKDIR /src
# Dependencies first: this layer survives source-only changes.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/meeboter/meeboter/pkg/version.Version=${VERSION}" \
      -o /out/ ./cmd/meeboter ./cmd/meeboter-bot

# Runtime stage: no shell, no package manager, not root.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/meeboter /out/meeboter-bot /
USER nonroot:nonroot
ENTRYPOINT ["/meeboter"]
CMD ["serve"]
