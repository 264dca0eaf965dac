package pgcluster

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// BinDirEnv names the environment variable that overrides binary discovery,
// for machines with several PostgreSQL versions or a non-Debian layout.
const BinDirEnv = "PG_BIN_DIR"

// systemRoot is where Debian's postgresql-NN packages put one bin directory
// per major version.
const systemRoot = "/usr/lib/postgresql"

// FindBinDir returns the directory holding initdb and postgres: $PG_BIN_DIR
// if set, else the highest version under /usr/lib/postgresql, else the
// directory of postgres found on PATH.
func FindBinDir() (string, error) {
	if dir := os.Getenv(BinDirEnv); dir != "" {
		if err := checkBinDir(dir); err != nil {
			return "", fmt.Errorf("pgcluster: %s=%s: %w", BinDirEnv, dir, err)
		}
		return dir, nil
	}
	if dir := highestBinDir(systemRoot); dir != "" {
		return dir, nil
	}
	path, err := exec.LookPath("postgres")
	if err != nil {
		return "", errors.New("pgcluster: no PostgreSQL server binaries found: " +
			"install postgresql, put postgres on PATH or set " + BinDirEnv)
	}
	dir := filepath.Dir(path)
	if err := checkBinDir(dir); err != nil {
		return "", fmt.Errorf("pgcluster: %s: %w", dir, err)
	}
	return dir, nil
}

// highestBinDir picks the newest root/<version>/bin that holds a server. The
// check matters: a client-only package (postgresql-client-NN) also creates
// root/NN/bin, with psql but no postgres.
func highestBinDir(root string) string {
	entries, _ := os.ReadDir(root) // a missing root just means "not Debian".
	var best string
	var bestVersion []int
	for _, e := range entries {
		version, ok := parseVersion(e.Name())
		dir := filepath.Join(root, e.Name(), "bin")
		if !ok || checkBinDir(dir) != nil {
			continue
		}
		if best == "" || slices.Compare(version, bestVersion) > 0 {
			best, bestVersion = dir, version
		}
	}
	return best
}

// parseVersion turns "15" or "9.6" into comparable numbers, so that 10 sorts
// above 9.6 (string order would say otherwise).
func parseVersion(s string) ([]int, bool) {
	var out []int
	for part := range strings.SplitSeq(s, ".") {
		n, err := strconv.Atoi(part)
		if err != nil {
			return nil, false
		}
		out = append(out, n)
	}
	return out, true
}

func checkBinDir(dir string) error {
	for _, name := range []string{"initdb", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			return fmt.Errorf("%s is not an executable file", fi.Name())
		}
	}
	return nil
}
