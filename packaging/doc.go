// Package packaging holds what installs spanshipper — the systemd unit and
// its environment file, the nfpm description of the .deb and .rpm and their
// scripts, the Kubernetes manifests — and the tests that check them: the
// unit passes systemd-analyze verify, the packages hold what they should,
// and the release binary runs in an empty root.
package packaging
