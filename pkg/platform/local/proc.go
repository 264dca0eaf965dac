package local

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Environment variables that tag a process as ours.
const (
	envInstance = "MEEBOTER_LOCAL_INSTANCE"
	envWorkload = "MEEBOTER_WORKLOAD"
)

// proc is a process of ours found in /proc.
type proc struct {
	pid       int
	name      string
	startedAt time.Time
	startTick uint64
}

// scanProcs finds every live (non-zombie) process tagged with instance.
func scanProcs(instance string) ([]proc, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	want := []byte(envInstance + "=" + instance)
	var found []proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil || !hasEnv(env, want) {
			continue // gone, or not ours to read: not ours
		}
		st, ok := readStat(pid)
		// A bot's own children inherit its tags; the bot leads its process
		// group (Setpgid), so only group leaders are workloads.
		if !ok || st.zombie || st.pgrp != pid {
			continue
		}
		found = append(found, proc{pid: pid, name: envValue(env, envWorkload), startedAt: st.startedAt, startTick: st.startTick})
	}
	return found, nil
}

func hasEnv(environ, kv []byte) bool {
	for _, v := range bytes.Split(environ, []byte{0}) {
		if bytes.Equal(v, kv) {
			return true
		}
	}
	return false
}

func envValue(environ []byte, key string) string {
	prefix := []byte(key + "=")
	for _, v := range bytes.Split(environ, []byte{0}) {
		if bytes.HasPrefix(v, prefix) {
			return string(v[len(prefix):])
		}
	}
	return ""
}

type stat struct {
	zombie    bool
	pgrp      int
	startTick uint64
	startedAt time.Time
}

// readStat reads state and start time of pid; ok is false when it is gone.
func readStat(pid int) (stat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return stat{}, false
	}
	// The command name (field 2) may hold spaces and parentheses: fields
	// after the last ')' are fixed.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return stat{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return stat{}, false
	}
	ticks, _ := strconv.ParseUint(f[19], 10, 64) // field 22: starttime
	pgrp, _ := strconv.Atoi(f[2])                // field 5: process group
	return stat{zombie: f[0] == "Z" || f[0] == "X", pgrp: pgrp, startTick: ticks, startedAt: bootTime().Add(time.Duration(ticks) * time.Second / clockTicks)}, true
}

// clockTicks is USER_HZ, 100 on every Linux architecture Go supports.
const clockTicks = 100

func bootTime() time.Time {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			sec, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return time.Unix(sec, 0)
		}
	}
	return time.Time{}
}

// alive reports whether pid is a live process started at startTick.
func alive(pid int, startTick uint64) bool {
	st, ok := readStat(pid)
	return ok && !st.zombie && st.startTick == startTick
}

// signalGroup signals the process group led by pid (children share it).
func signalGroup(pid int, sig syscall.Signal) {
	if err := syscall.Kill(-pid, sig); err != nil {
		_ = syscall.Kill(pid, sig)
	}
}
