package proctail_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/hack/devenv/proctail"
)

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestTailKeepsTheEndAndCopiesAll(t *testing.T) {
	t.Parallel()
	var all bytes.Buffer
	tail := &proctail.Tail{Also: &all}
	chunk := strings.Repeat("x", 1000) + "\n"
	for range 40 {
		n, err := tail.Write([]byte(chunk))
		require.NoError(t, err)
		require.Len(t, chunk, n)
	}
	_, _ = tail.Write([]byte("the last line\n"))
	require.Len(t, tail.String(), proctail.Size)
	require.True(t, strings.HasSuffix(tail.String(), "the last line\n"))
	require.Equal(t, 40*len(chunk)+len("the last line\n"), all.Len(), "everything reaches Also")
}

func TestTailNeverFails(t *testing.T) {
	t.Parallel()
	tail := &proctail.Tail{Also: failingWriter{}}
	n, err := tail.Write([]byte("hello"))
	require.NoError(t, err, "a failing log must not stop the child's output")
	require.Equal(t, 5, n)
	require.Equal(t, "hello", tail.String())
	require.NotPanics(t, func() { _, _ = (&proctail.Tail{}).Write([]byte("no Also")) })
}
