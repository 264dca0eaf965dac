package local

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// checkStateDir refuses a state directory another user could write to or
// owns. Whoever can write there can plant a workload record (making us
// signal a process of their choosing) or a symlink in place of a log (making
// us append bot output to a file of theirs). Local is for development, but
// its default lives under the shared /tmp.
func checkStateDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("local: state dir: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("local: state dir %s is not a directory", dir)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("local: state dir %s is owned by uid %d, not by us (uid %d): use a directory of our own (LOCAL_STATE_DIR)",
			dir, st.Uid, os.Geteuid())
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("local: state dir %s is writable by group or others (mode %04o): chmod go-w it or use another (LOCAL_STATE_DIR)",
			dir, fi.Mode().Perm())
	}
	return nil
}

// createNoFollow opens path for writing without following a symlink there:
// a planted link fails the open (ELOOP) instead of redirecting our writes.
func createNoFollow(path string, flag int) (*os.File, error) {
	f, err := os.OpenFile(path, flag|os.O_CREATE|os.O_WRONLY|syscall.O_NOFOLLOW, 0o600)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("local: %s is a symlink; refusing to write through it", path)
	}
	return f, err
}
