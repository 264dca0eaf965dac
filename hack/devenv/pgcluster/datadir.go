package pgcluster

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// serverUser is the account initdb and postgres run as when we are root: both
// refuse to run as root, so that a compromised server cannot own the machine.
const serverUser = "postgres"

// serverCredential returns whom to run the server binaries as, or nil to run
// them as ourselves.
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(serverUser)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: running as root needs a %q user: %w", serverUser, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: uid of %s: %w", serverUser, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: gid of %s: %w", serverUser, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// dataDirs resolves where the cluster lives (dataDir) and what Stop deletes
// (removeDir, empty when the data must survive).
func dataDirs(opts Options) (dataDir, removeDir string, err error) {
	switch {
	case opts.DataDir == "" && opts.Keep:
		return "", "", errors.New("pgcluster: Keep needs a DataDir")
	case opts.DataDir == "":
		tmp, err := os.MkdirTemp("", "pgcluster-")
		if err != nil {
			return "", "", fmt.Errorf("pgcluster: %w", err)
		}
		return filepath.Join(tmp, "data"), tmp, nil
	}
	dataDir, err = filepath.Abs(opts.DataDir)
	if err != nil {
		return "", "", fmt.Errorf("pgcluster: %w", err)
	}
	if opts.Keep {
		return dataDir, "", nil
	}
	// Stop deletes a non-Keep directory, so never adopt one holding anything:
	// a mistyped path must not cost someone their files.
	if entries, _ := os.ReadDir(dataDir); len(entries) > 0 {
		return "", "", fmt.Errorf("pgcluster: %s is not empty (set Keep to reuse it)", dataDir)
	}
	return dataDir, dataDir, nil
}

func initialized(dataDir string) bool {
	_, err := os.Stat(filepath.Join(dataDir, "PG_VERSION"))
	return err == nil
}

// makeDataDir creates an empty data directory owned by the server user, with
// the 0700 mode initdb and postgres insist on, reachable from /.
func makeDataDir(dataDir string, cred *syscall.Credential) error {
	if err := os.MkdirAll(filepath.Dir(dataDir), 0o755); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	if err := os.Mkdir(dataDir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("pgcluster: %w", err)
	}
	if err := os.Chmod(dataDir, 0o700); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	if cred == nil {
		return nil
	}
	if err := os.Chown(dataDir, int(cred.Uid), int(cred.Gid)); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	return grantTraverse(filepath.Dir(dataDir), cred)
}

// grantTraverse makes every ancestor of dir searchable by cred. Temporary
// directories (os.MkdirTemp, t.TempDir) are created 0700 by root, which would
// lock the server user out of a data dir it owns. Only the search bit of the
// class that applies is added: nothing becomes listable or writable.
func grantTraverse(dir string, cred *syscall.Credential) error {
	for {
		fi, err := os.Stat(dir)
		if err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
		bit := searchBit(fi, cred)
		if fi.Mode().Perm()&bit == 0 {
			mode := fi.Mode() & (fs.ModePerm | fs.ModeSticky | fs.ModeSetuid | fs.ModeSetgid)
			if err := os.Chmod(dir, mode|bit); err != nil {
				return fmt.Errorf("pgcluster: make %s searchable for %s: %w", dir, serverUser, err)
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil
		}
		dir = parent
	}
}

// searchBit is the x bit that the kernel checks for cred: owner, else group,
// else other (the first class that matches wins, even if it lacks the bit).
func searchBit(fi fs.FileInfo, cred *syscall.Credential) fs.FileMode {
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !ok:
		return 0o001
	case st.Uid == cred.Uid:
		return 0o100
	case st.Gid == cred.Gid:
		return 0o010
	default:
		return 0o001
	}
}
