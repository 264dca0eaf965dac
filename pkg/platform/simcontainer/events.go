package simcontainer

import (
	"container/heap"
	"time"
)

// Events is a simulator's schedule: callbacks due at given times, fired in
// time order (ties in scheduling order) by Advance. While an event fires,
// Now is its due time, not the clock's: work done in an event is stamped with
// the time it was due, so a fake clock moved in one big step replays a whole
// chain. Not safe for concurrent use: the simulator holds its lock.
type Events struct {
	queue  eventQueue
	seq    uint64
	firing time.Time
}

// At schedules fn at t.
func (e *Events) At(t time.Time, fn func()) {
	e.seq++
	heap.Push(&e.queue, &event{at: t, seq: e.seq, fn: fn})
}

// Now is the due time of the event being fired, else clock().
func (e *Events) Now(clock func() time.Time) time.Time {
	if !e.firing.IsZero() {
		return e.firing
	}
	return clock()
}

// Advance fires every event due by now, including the ones they schedule.
func (e *Events) Advance(now time.Time) {
	for e.queue.Len() > 0 && !e.queue[0].at.After(now) {
		ev := heap.Pop(&e.queue).(*event)
		e.firing = ev.at
		ev.fn()
	}
	e.firing = time.Time{}
}

// Tick calls step every interval until stop is closed, then closes done: a
// simulator's background ticker that fires due events.
func Tick(stop <-chan struct{}, done chan<- struct{}, every time.Duration, step func()) {
	defer close(done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			step()
		}
	}
}

type event struct {
	at  time.Time
	seq uint64
	fn  func()
}

// eventQueue is a min-heap of events by time, then scheduling order.
type eventQueue []*event

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(*event)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}
