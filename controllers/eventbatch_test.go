package controllers

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/pkg/store"
)

// recordingWriter is a write func that holds its first call until released,
// so the test can gather callers behind it, and remembers every batch.
type recordingWriter struct {
	mu      sync.Mutex
	batches [][]store.ControllerEvent
	started chan struct{}
	release chan struct{}
	fail    func(batch int) error
}

func newRecordingWriter() *recordingWriter {
	return &recordingWriter{started: make(chan struct{}, 100), release: make(chan struct{})}
}

func (w *recordingWriter) write(_ context.Context, events []store.ControllerEvent) error {
	w.mu.Lock()
	n := len(w.batches)
	w.batches = append(w.batches, events)
	w.mu.Unlock()
	w.started <- struct{}{}
	if n == 0 {
		<-w.release
	}
	if w.fail != nil {
		return w.fail(n)
	}
	return nil
}

func (b *eventBatcher) pendingCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.pending)
}

// addConcurrently starts n callers behind a first one whose write is held,
// and returns each caller's outcome by the event's bot id.
func addConcurrently(t *testing.T, b *eventBatcher, w *recordingWriter, n int) map[uuid.UUID]error {
	t.Helper()
	var mu sync.Mutex
	outcome := map[uuid.UUID]error{}
	var wg sync.WaitGroup
	add := func() {
		defer wg.Done()
		ev := store.ControllerEvent{BotID: uuid.New(), Type: "WEBHOOK_DELIVERY", OccurredAt: time.Unix(0, 0)}
		err := b.add(ev)
		mu.Lock()
		outcome[ev.BotID] = err
		mu.Unlock()
	}
	wg.Add(1 + n)
	go add()
	<-w.started // the first caller leads, alone
	for range n {
		go add()
	}
	require.Eventually(t, func() bool { return b.pendingCount() == n }, 10*time.Second, time.Millisecond)
	close(w.release)
	wg.Wait()
	return outcome
}

func TestEventBatcherGroupsConcurrentRecords(t *testing.T) {
	t.Parallel()
	w := newRecordingWriter()
	b := &eventBatcher{write: w.write, max: 20}

	outcome := addConcurrently(t, b, w, 45)

	require.Len(t, outcome, 46)
	sizes := []int{}
	seen := map[uuid.UUID]int{}
	for _, batch := range w.batches {
		sizes = append(sizes, len(batch))
		for _, ev := range batch {
			seen[ev.BotID]++
		}
	}
	require.Equal(t, []int{1, 20, 20, 5}, sizes, "the waiting callers share writes of at most max records")
	for id, err := range outcome {
		require.NoError(t, err)
		require.Equal(t, 1, seen[id], "every record written exactly once")
	}
	require.Zero(t, b.pendingCount())
	require.False(t, b.leading, "the last writer gave up the lead")
}

func TestEventBatcherReturnsEachCallerItsBatchOutcome(t *testing.T) {
	t.Parallel()
	w := newRecordingWriter()
	boom := errors.New("boom")
	w.fail = func(batch int) error {
		if batch == 1 {
			return boom
		}
		return nil
	}
	b := &eventBatcher{write: w.write, max: 10}

	outcome := addConcurrently(t, b, w, 15)

	failed := map[uuid.UUID]bool{}
	for _, ev := range w.batches[1] {
		failed[ev.BotID] = true
	}
	require.Len(t, failed, 10)
	for id, err := range outcome {
		if failed[id] {
			require.ErrorIs(t, err, boom, "a caller whose record was in the failed batch hears of it")
		} else {
			require.NoError(t, err, "the other batches are unaffected")
		}
	}
}
