// Package kube reads Kubernetes pod metadata from a container log's path,
// as the kubelet lays the files out, without asking the API server.
package kube

import (
	"path/filepath"
	"strings"
)

// The metadata keys, after the OpenTelemetry semantic conventions.
const (
	KeyNamespace = "k8s.namespace.name"
	KeyPod       = "k8s.pod.name"
	KeyPodUID    = "k8s.pod.uid"
	KeyContainer = "k8s.container.name"
)

// MaxAttrs is the most pairs FromPath returns.
const MaxAttrs = 4

// Attr is one metadata pair.
type Attr struct{ Key, Value string }

// FromPath returns the pod metadata a container log's path carries:
//   - the kubelet's pod log layout, wherever it is mounted:
//     …/<namespace>_<pod>_<uid>/<container>/<restart>.log (also its rotated
//     <restart>.log.<YYYYMMDD-HHMMSS>): namespace, pod, pod uid, container;
//   - the /var/log/containers symlink names,
//     <pod>_<namespace>_<container>-<64 hex>.log: namespace, pod, container.
//
// Other paths carry none. Namespaces and pod names are DNS names and
// container names DNS labels, none of which holds an '_', so the splits
// are unambiguous.
func FromPath(path string) []Attr {
	base := filepath.Base(path)
	dir := filepath.Dir(path)
	if restartLog(base) {
		container := filepath.Base(dir)
		parts := strings.Split(filepath.Base(filepath.Dir(dir)), "_")
		if len(parts) == 3 && parts[0] != "" && parts[1] != "" && parts[2] != "" && container != "" && container != "." && container != "/" {
			return []Attr{{KeyNamespace, parts[0]}, {KeyPod, parts[1]}, {KeyPodUID, parts[2]}, {KeyContainer, container}}
		}
	}
	if name, ok := strings.CutSuffix(base, ".log"); ok {
		dash := strings.LastIndexByte(name, '-')
		if dash < 0 || !hex64(name[dash+1:]) {
			return nil
		}
		parts := strings.Split(name[:dash], "_")
		if len(parts) == 3 && parts[0] != "" && parts[1] != "" && parts[2] != "" {
			return []Attr{{KeyNamespace, parts[1]}, {KeyPod, parts[0]}, {KeyContainer, parts[2]}}
		}
	}
	return nil
}

// restartLog reports whether base is <n>.log or a kubelet rotation of it,
// <n>.log.<YYYYMMDD-HHMMSS>.
func restartLog(base string) bool {
	n, rest, ok := strings.Cut(base, ".log")
	if !ok || n == "" || strings.Trim(n, "0123456789") != "" {
		return false
	}
	return rest == "" || rest[0] == '.' && !strings.HasSuffix(rest, ".gz")
}

func hex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
