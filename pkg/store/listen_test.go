package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/pkg/store"
)

// Listen hands over WakeAll once it listens: a wake-up sent after that is
// heard, and one sent before is covered by the pass WakeAll causes.
func TestListenBeginsWithWakeAll(t *testing.T) {
	t.Parallel()
	st, _ := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got := make(chan string, 10)
	go func() { _ = store.Listen(ctx, st.Pool().Config().ConnConfig, func(p string) { got <- p }) }()
	require.Equal(t, store.WakeAll, <-got)
	require.NoError(t, st.Wake(ctx, store.WakeAdmit))
	select {
	case p := <-got:
		require.Equal(t, store.WakeAdmit, p)
	case <-ctx.Done():
		t.Fatal("a wake-up sent after WakeAll was not heard")
	}
}
