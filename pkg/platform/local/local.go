package local

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/meeboter/meeboter/pkg/platform"
)

// Name is the platform's name in rows and metrics.
const Name = "local"

// Config configures the local platform.
type Config struct {
	// StateDir holds one record per workload and the workloads' logs.
	StateDir string
	// Command is the bot command and its arguments.
	Command []string
	// StopGrace is how long Stop waits after SIGTERM before SIGKILL (default 5 s).
	StopGrace time.Duration
	// OnExit, when set, is called after a child of this process exits, so an
	// observer can look at once instead of at its next period.
	OnExit func(name string)
	Logger *zap.Logger
}

// Platform runs workloads as local processes.
type Platform struct {
	cfg      Config
	instance string
	locks    sync.Map // name -> *sync.Mutex: Create and Stop of one name never interleave here
}

func (p *Platform) lock(name string) func() {
	m, _ := p.locks.LoadOrStore(name, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

var _ platform.Platform = (*Platform)(nil)

// New prepares the state directory.
func New(cfg Config) (*Platform, error) {
	if len(cfg.Command) == 0 {
		return nil, errors.New("local: empty bot command")
	}
	if cfg.StopGrace <= 0 {
		cfg.StopGrace = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	dir, err := filepath.Abs(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("local: state dir: %w", err)
	}
	if err := checkStateDir(dir); err != nil {
		return nil, err
	}
	cfg.StateDir = dir
	return &Platform{cfg: cfg, instance: instanceID(dir)}, nil
}

// instanceID tags the processes of one state directory, so two controllers
// (or test runs) with different state directories never see each other's.
func instanceID(absDir string) string {
	sum := sha256.Sum256([]byte(absDir))
	return hex.EncodeToString(sum[:8])
}

// Name implements platform.Platform.
func (p *Platform) Name() string { return Name }

// record is a workload's file in the state directory.
type record struct {
	PID       int       `json:"pid"`
	StartTick uint64    `json:"start_tick"`
	CreatedAt time.Time `json:"created_at"`
}

type exitRecord struct {
	Code     int       `json:"code"`
	ExitedAt time.Time `json:"exited_at"`
}

func (p *Platform) path(name, ext string) string {
	return filepath.Join(p.cfg.StateDir, name+ext)
}

// Create starts the bot command for w, or adopts the live process of that name.
func (p *Platform) Create(ctx context.Context, w platform.Workload) (string, error) {
	defer p.lock(w.Name)()
	if l, found, err := p.Lookup(ctx, w.Name); err != nil || found {
		return l.ExternalID, err
	}
	_ = os.Remove(p.path(w.Name, ".exit"))
	logFile, err := createNoFollow(p.path(w.Name, ".log"), os.O_APPEND)
	if err != nil {
		return "", err
	}
	cmd := exec.Command(p.cfg.Command[0], p.cfg.Command[1:]...) //nolint:gosec // the operator's configured bot command
	cmd.Env = p.env(w)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Own process group: the bot outlives a controller crash (to be adopted)
	// and Stop signals the whole group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return "", platform.Permanent(fmt.Errorf("local: start %s: %w", p.cfg.Command[0], err))
	}
	pid := cmd.Process.Pid
	st, _ := readStat(pid)
	if err := writeJSON(p.path(w.Name, ".json"), record{PID: pid, StartTick: st.startTick, CreatedAt: time.Now()}); err != nil {
		p.cfg.Logger.Warn("local: cannot write workload record; the process is still found by its tag", zap.Error(err))
	}
	go p.reap(w.Name, cmd, logFile)
	p.cfg.Logger.Debug("local: started workload", zap.String("workload", w.Name), zap.Int("pid", pid))
	return strconv.Itoa(pid), nil
}

// env is the whole environment of a bot: nothing of the controller's own
// environment (database URL, keys) leaks into it.
func (p *Platform) env(w platform.Workload) []string {
	env := []string{envInstance + "=" + p.instance, envWorkload + "=" + w.Name}
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "LANG", "TZ"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	for k, v := range w.Env {
		env = append(env, k+"="+v)
	}
	return env
}

// reap waits for a child of this process and records how it exited.
func (p *Platform) reap(name string, cmd *exec.Cmd, logFile *os.File) {
	err := cmd.Wait()
	logFile.Close()
	code := 0
	if err != nil {
		code = -1
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			code = exitErr.ExitCode()
		}
	}
	if err := writeJSON(p.path(name, ".exit"), exitRecord{Code: code, ExitedAt: time.Now()}); err != nil {
		p.cfg.Logger.Warn("local: cannot record exit", zap.String("workload", name), zap.Error(err))
	}
	if p.cfg.OnExit != nil {
		p.cfg.OnExit(name)
	}
}

// Lookup finds the live process of a workload: by its record, or failing
// that by its tag in /proc.
func (p *Platform) Lookup(_ context.Context, name string) (platform.Listed, bool, error) {
	var rec record
	if readJSON(p.path(name, ".json"), &rec) == nil && alive(rec.PID, rec.StartTick) {
		return listedRunning(name, rec.PID, rec.CreatedAt), true, nil
	}
	procs, err := scanProcs(p.instance)
	if err != nil {
		return platform.Listed{}, false, err
	}
	for _, pr := range procs {
		if pr.name == name {
			return listedRunning(name, pr.pid, pr.startedAt), true, nil
		}
	}
	return platform.Listed{}, false, nil
}

func listedRunning(name string, pid int, created time.Time) platform.Listed {
	return platform.Listed{Name: name, ExternalID: strconv.Itoa(pid), CreatedAt: created,
		Observation: platform.Observation{Phase: platform.PhaseRunning}}
}

// List returns every live process of this instance and every recorded exit.
func (p *Platform) List(_ context.Context) ([]platform.Listed, error) {
	procs, err := scanProcs(p.instance)
	if err != nil {
		return nil, err
	}
	var out []platform.Listed
	live := map[string]bool{}
	for _, pr := range procs {
		live[pr.name] = true
		out = append(out, listedRunning(pr.name, pr.pid, pr.startedAt))
	}
	exits, err := filepath.Glob(filepath.Join(p.cfg.StateDir, "*.exit"))
	if err != nil {
		return nil, err
	}
	for _, path := range exits {
		name := strings.TrimSuffix(filepath.Base(path), ".exit")
		var ex exitRecord
		if live[name] || readJSON(path, &ex) != nil {
			continue
		}
		code := ex.Code
		out = append(out, platform.Listed{Name: name, CreatedAt: ex.ExitedAt,
			Observation: platform.Observation{Phase: platform.PhaseExited, ExitCode: &code, Reason: "exit code " + strconv.Itoa(code)}})
	}
	return out, nil
}

// Stop terminates the workload's process group (SIGTERM, then SIGKILL after
// the grace period) and removes its records: when it returns, nothing is
// left.
func (p *Platform) Stop(ctx context.Context, name, _ string) (bool, error) {
	defer p.lock(name)()
	for {
		l, found, err := p.Lookup(ctx, name)
		if err != nil {
			return false, err
		}
		if !found {
			break
		}
		pid, _ := strconv.Atoi(l.ExternalID)
		if err := p.kill(ctx, pid); err != nil {
			return false, err
		}
	}
	for _, ext := range []string{".json", ".exit"} {
		if err := os.Remove(p.path(name, ext)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return false, err
		}
	}
	// A stopped name is never created again (attempt names are unique), so
	// its lock can go; this keeps the lock table from growing forever.
	p.locks.Delete(name)
	return true, nil
}

func (p *Platform) kill(ctx context.Context, pid int) error {
	st, ok := readStat(pid)
	if !ok {
		return nil
	}
	signalGroup(pid, syscall.SIGTERM)
	deadline := time.Now().Add(p.cfg.StopGrace)
	for alive(pid, st.startTick) {
		if time.Now().After(deadline) {
			signalGroup(pid, syscall.SIGKILL)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := createNoFollow(tmp, os.O_TRUNC)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
