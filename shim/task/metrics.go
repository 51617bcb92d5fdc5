package task

import (
	cgroupsv2 "github.com/containerd/cgroups/v3/cgroup2/stats"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
)

// metrics converts the agent's figures (the container's cgroup v2 in the
// guest) into containerd's cgroup v2 metrics, the one shape besides v1
// that Docker's stats accept. Units are the kernel's, as the agent
// reports them; a limit of "max" is 2^64-1, which Docker replaces by the
// machine's memory as it does for runc.
func metrics(st *agent.StatsResponse) *cgroupsv2.Metrics {
	ms := st.GetMemoryStat()
	return &cgroupsv2.Metrics{
		Pids: &cgroupsv2.PidsStat{Current: st.PidsCurrent, Limit: st.PidsLimit},
		CPU: &cgroupsv2.CPUStat{
			UsageUsec:  st.CpuUsageUsec,
			UserUsec:   st.CpuUserUsec,
			SystemUsec: st.CpuSystemUsec,
		},
		Memory: &cgroupsv2.MemoryStat{
			Usage:                 st.MemoryUsage,
			UsageLimit:            st.MemoryLimit,
			MaxUsage:              st.MemoryMaxUsage,
			Anon:                  ms["anon"],
			File:                  ms["file"],
			KernelStack:           ms["kernel_stack"],
			Slab:                  ms["slab"],
			Sock:                  ms["sock"],
			Shmem:                 ms["shmem"],
			FileMapped:            ms["file_mapped"],
			FileDirty:             ms["file_dirty"],
			FileWriteback:         ms["file_writeback"],
			AnonThp:               ms["anon_thp"],
			InactiveAnon:          ms["inactive_anon"],
			ActiveAnon:            ms["active_anon"],
			InactiveFile:          ms["inactive_file"],
			ActiveFile:            ms["active_file"],
			Unevictable:           ms["unevictable"],
			SlabReclaimable:       ms["slab_reclaimable"],
			SlabUnreclaimable:     ms["slab_unreclaimable"],
			Pgfault:               ms["pgfault"],
			Pgmajfault:            ms["pgmajfault"],
			WorkingsetRefault:     ms["workingset_refault_anon"] + ms["workingset_refault_file"],
			WorkingsetActivate:    ms["workingset_activate_anon"] + ms["workingset_activate_file"],
			WorkingsetNodereclaim: ms["workingset_nodereclaim"],
			Pgrefill:              ms["pgrefill"],
			Pgscan:                ms["pgscan"],
			Pgsteal:               ms["pgsteal"],
			Pgactivate:            ms["pgactivate"],
			Pgdeactivate:          ms["pgdeactivate"],
			Pglazyfree:            ms["pglazyfree"],
			Pglazyfreed:           ms["pglazyfreed"],
			ThpFaultAlloc:         ms["thp_fault_alloc"],
			ThpCollapseAlloc:      ms["thp_collapse_alloc"],
		},
		MemoryEvents: &cgroupsv2.MemoryEvents{OomKill: st.OomKills},
		Io: &cgroupsv2.IOStat{Usage: []*cgroupsv2.IOEntry{{
			Rbytes: st.IoReadBytes,
			Wbytes: st.IoWriteBytes,
			Rios:   st.IoReadOps,
			Wios:   st.IoWriteOps,
		}}},
	}
}
