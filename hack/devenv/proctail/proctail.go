package proctail

import (
	"io"
	"sync"
)

// Size is how much output a Tail keeps.
const Size = 16 << 10

// Tail is an io.Writer for a child's stdout and stderr.
type Tail struct {
	// Also receives everything written, when set.
	Also io.Writer

	mu  sync.Mutex
	buf []byte
}

// Write keeps the last Size bytes and copies p to Also. It never fails: an
// error would stop os/exec copying the child's output, and the child would
// then block writing to a full pipe.
func (t *Tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > Size {
		t.buf = t.buf[len(t.buf)-Size:]
	}
	if t.Also != nil {
		_, _ = t.Also.Write(p)
	}
	return len(p), nil
}

// String is the kept output.
func (t *Tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
