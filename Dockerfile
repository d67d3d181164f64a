# exlab's container image: one static binary on an empty base, run as a non-root user.
#
#   podman build --format docker --build-arg VERSION=$(git describe --always --dirty) -t exlab .
#   (--format docker: the OCI image format has no HEALTHCHECK; docker build needs no flag)
#   podman run -d --name ex01 -p 25:25 -p 587:587 -v exlab-data:/data exlab
#   podman exec ex01 /exlab mailbox list --data /data
#
# The final stage is FROM scratch: exlab is one Go binary built without cgo, so it needs no libc,
# shell or package manager; the build stage supplies the few files it reads (the CA bundle for
# send connectors' TLS, the time zones, a passwd line for its user). No distroless image is
# needed, so the image builds from the Go image alone.
ARG GO_IMAGE=docker.io/library/golang:1.26-bookworm

FROM ${GO_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The Makefile's version ldflags (main.version, printed by exlab version); .git is not in the
# build context, so the version comes in as a build argument.
ARG VERSION=dev
# A static binary: no cgo, no paths of the build machine.
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/exlab ./cmd/exlab \
 && /out/exlab version
# Ports below 1024 (25, 465, 587, 717, 475-477) as a non-root user: the binary carries the file
# capability, so it needs no root and no --cap-add with the engines' default capability set
# (which has NET_BIND_SERVICE). With --cap-drop ALL, add --cap-add NET_BIND_SERVICE (or
# securityContext.capabilities.add in Kubernetes): the kernel refuses to exec a binary whose file
# capabilities are outside the bounding set.
RUN command -v setcap >/dev/null || (apt-get update && apt-get install -y --no-install-recommends libcap2-bin); \
    setcap cap_net_bind_service=+ep /out/exlab && getcap /out/exlab
RUN mkdir -p /out/etc /out/data \
 && echo 'exlab:x:65532:65532:exlab:/data:/sbin/nologin' > /out/etc/passwd \
 && echo 'exlab:x:65532:' > /out/etc/group \
 && chown 65532:65532 /out/data

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /usr/share/zoneinfo /usr/share/zoneinfo
COPY --from=build /out/etc/ /etc/
COPY --from=build --chown=65532:65532 /out/data /data
COPY --from=build /out/exlab /exlab
USER 65532:65532
WORKDIR /data
VOLUME /data
# Front End Transport 25, 587, 717; Transport 2525, 465; Mailbox Transport Delivery 475 (between
# servers); the admin listener 8470 (only when --admin/EXLAB_ADMIN puts it beyond loopback).
EXPOSE 25 587 717 2525 465 475 8470
# Ready when every enabled connector listens (the admin listener's /readyz, found through /data).
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 CMD ["/exlab","readyz","--data","/data"]
ENTRYPOINT ["/exlab"]
# The admin listener stays on the container's loopback (the health check reaches it there): an
# admin listener beyond loopback needs a token, which the image cannot choose. To publish the web
# console and /api/v1 set both EXLAB_ADMIN=0.0.0.0:8470 and EXLAB_ADMIN_TOKEN (compose.yaml does).
CMD ["serve","--data","/data"]
