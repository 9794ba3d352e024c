# spanshipper container image: a static binary on scratch.
#
#   docker build -t spanshipper --build-arg VERSION=$(git describe --tags --always) \
#     --build-arg COMMIT=$(git rev-parse --short=12 HEAD) .
#   docker run --rm spanshipper version

FROM golang:1.26-bookworm AS build
WORKDIR /src
# Modules first: this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/spanshipper ./cmd/spanshipper
# scratch has no mkdir: the default state dir is made here, owned by the
# user spanshipper runs as, so it works without a volume too.
RUN mkdir -p /out/var/lib/spanshipper

FROM scratch
# For the https endpoint.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build --chown=65532:65532 /out/var/lib/spanshipper /var/lib/spanshipper
COPY --from=build /out/spanshipper /spanshipper
# Numeric, as scratch has no /etc/passwd. Reading span files owned by another
# user may need a group (--group-add) or running as root; see
# packaging/kubernetes/daemonset.yaml.
USER 65532:65532
# --listen defaults to 127.0.0.1:9464; pass --listen 0.0.0.0:9464 to reach it
# from outside the container.
EXPOSE 9464
ENTRYPOINT ["/spanshipper"]
