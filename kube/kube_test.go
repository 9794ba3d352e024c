package kube

import (
	"reflect"
	"testing"
)

func TestFromPath(t *testing.T) {
	id := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	cases := []struct {
		path string
		want []Attr
	}{
		{"/var/log/pods/agents_planner-7d9f_3f1e2d4c-1a2b-4c3d-9e8f-0a1b2c3d4e5f/agent/0.log",
			[]Attr{{KeyNamespace, "agents"}, {KeyPod, "planner-7d9f"}, {KeyPodUID, "3f1e2d4c-1a2b-4c3d-9e8f-0a1b2c3d4e5f"}, {KeyContainer, "agent"}}},
		{"/host/var/log/pods/ns_pod_uid/c/12.log.20261125-101500",
			[]Attr{{KeyNamespace, "ns"}, {KeyPod, "pod"}, {KeyPodUID, "uid"}, {KeyContainer, "c"}}},
		{"/var/log/pods/ns_pod_uid/c/0.log.20261125-101500.gz", nil},
		{"/var/log/pods/ns_pod/c/0.log", nil},
		{"/var/log/pods/ns_pod_uid/c/app.log", nil},
		{"/var/log/containers/planner-7d9f_agents_agent-" + id + ".log",
			[]Attr{{KeyNamespace, "agents"}, {KeyPod, "planner-7d9f"}, {KeyContainer, "agent"}}},
		{"/var/log/containers/planner_agents_agent-" + id[:63] + ".log", nil},
		{"/var/log/agents/agent.jsonl", nil},
		{"0.log", nil},
	}
	for _, c := range cases {
		if got := FromPath(c.path); !reflect.DeepEqual(got, c.want) {
			t.Errorf("FromPath(%q) = %v, want %v", c.path, got, c.want)
		}
	}
}
