package task

import (
	"testing"

	cgroupsv2 "github.com/containerd/cgroups/v3/cgroup2/stats"
	"github.com/containerd/typeurl/v2"
	"google.golang.org/protobuf/proto"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
)

func TestMetrics(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   *agent.StatsResponse
		want func(m *cgroupsv2.Metrics) bool
	}{
		{"empty", &agent.StatsResponse{}, func(m *cgroupsv2.Metrics) bool {
			return m.CPU != nil && m.Memory != nil && m.Pids != nil && len(m.Io.Usage) == 1
		}},
		{"cpu", &agent.StatsResponse{CpuUsageUsec: 7, CpuUserUsec: 5, CpuSystemUsec: 2}, func(m *cgroupsv2.Metrics) bool {
			return m.CPU.UsageUsec == 7 && m.CPU.UserUsec == 5 && m.CPU.SystemUsec == 2
		}},
		{"memory, and the inactive file pages docker subtracts", &agent.StatsResponse{
			MemoryUsage: 100, MemoryLimit: 1 << 30, MemoryMaxUsage: 150,
			MemoryStat: map[string]uint64{"inactive_file": 30, "anon": 60, "workingset_refault_anon": 1, "workingset_refault_file": 2},
		}, func(m *cgroupsv2.Metrics) bool {
			return m.Memory.Usage == 100 && m.Memory.UsageLimit == 1<<30 && m.Memory.MaxUsage == 150 &&
				m.Memory.InactiveFile == 30 && m.Memory.Anon == 60 && m.Memory.WorkingsetRefault == 3
		}},
		{"unlimited", &agent.StatsResponse{MemoryLimit: ^uint64(0), PidsLimit: ^uint64(0)}, func(m *cgroupsv2.Metrics) bool {
			return m.Memory.UsageLimit == ^uint64(0) && m.Pids.Limit == ^uint64(0)
		}},
		{"io, pids, oom kills", &agent.StatsResponse{IoReadBytes: 1, IoWriteBytes: 2, IoReadOps: 3, IoWriteOps: 4, PidsCurrent: 9, OomKills: 2}, func(m *cgroupsv2.Metrics) bool {
			e := m.Io.Usage[0]
			return e.Rbytes == 1 && e.Wbytes == 2 && e.Rios == 3 && e.Wios == 4 && m.Pids.Current == 9 && m.MemoryEvents.OomKill == 2
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if m := metrics(tc.in); !tc.want(m) {
				t.Errorf("metrics(%v) = %v", tc.in, m)
			}
		})
	}
}

// FuzzMetrics feeds the conversion whatever a guest could send: it must
// carry the figures over and always encode as containerd's cgroup v2
// metrics.
func FuzzMetrics(f *testing.F) {
	seed, _ := proto.Marshal(&agent.StatsResponse{CpuUsageUsec: 1, MemoryUsage: 2, MemoryStat: map[string]uint64{"file": 3}})
	f.Add(seed)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var st agent.StatsResponse
		if err := proto.Unmarshal(b, &st); err != nil {
			return
		}
		a, err := typeurl.MarshalAnyToProto(metrics(&st))
		if err != nil {
			t.Fatal(err)
		}
		v, err := typeurl.UnmarshalAny(a)
		if err != nil {
			t.Fatal(err)
		}
		m := v.(*cgroupsv2.Metrics)
		if m.CPU.UsageUsec != st.CpuUsageUsec || m.Memory.Usage != st.MemoryUsage || m.Memory.File != st.MemoryStat["file"] {
			t.Fatalf("figures changed: %v from %v", m, &st)
		}
	})
}
