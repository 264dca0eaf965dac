package observer_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/controllers/observer"
	"github.com/meeboter/meeboter/pkg/store"
)

func TestNeedsRead(t *testing.T) {
	t.Parallel()
	now := t0.Add(time.Hour)
	f := observer.Freshness{Silence: 30 * time.Second, MaxStaleness: 5 * time.Minute}
	ago := func(d time.Duration) *time.Time { return new(now.Add(-d)) }
	// dep is a created workload seen running a minute ago, its bot beating.
	dep := func(mod func(*store.ObservedDeployment)) store.ObservedDeployment {
		d := store.ObservedDeployment{Deployment: store.Deployment{Name: "meeboter-b-1", State: store.DeploymentRunning,
			ExternalID: new("arn:aws:ecs:us-east-1:123456789012:task/bots/abc"), Observed: new(store.ObservedRunning),
			ObservedAt: ago(time.Minute)}, LastHeartbeatAt: ago(5 * time.Second)}
		if mod != nil {
			mod(&d)
		}
		return d
	}
	read := now.Add(-10 * time.Second) // this observer read it then
	cases := []struct {
		name     string
		d        store.ObservedDeployment
		lastRead time.Time
		want     observer.Read
	}{
		{"running, bot beating, read lately", dep(nil), read, observer.ReadNone},
		{"never read by this observer, seen running lately", dep(nil), time.Time{}, observer.ReadNone},
		{"bot beat just within the silence", dep(func(d *store.ObservedDeployment) { d.LastHeartbeatAt = ago(29 * time.Second) }),
			read, observer.ReadNone},
		{"bot silent for the silence", dep(func(d *store.ObservedDeployment) { d.LastHeartbeatAt = ago(30 * time.Second) }),
			read, observer.ReadDescribe},
		{"bot never beat", dep(func(d *store.ObservedDeployment) { d.LastHeartbeatAt = nil }), read, observer.ReadDescribe},
		{"read just within the staleness", dep(func(d *store.ObservedDeployment) { d.ObservedAt = ago(time.Hour) }),
			now.Add(-5*time.Minute + time.Second), observer.ReadNone},
		{"not read for the staleness", dep(func(d *store.ObservedDeployment) { d.ObservedAt = ago(time.Hour) }),
			now.Add(-5 * time.Minute), observer.ReadDescribe},
		{"never read, seen running long ago", dep(func(d *store.ObservedDeployment) { d.ObservedAt = ago(5 * time.Minute) }),
			time.Time{}, observer.ReadDescribe},
		{"created, not seen running yet", dep(func(d *store.ObservedDeployment) { d.Observed = new(store.ObservedPending) }),
			read, observer.ReadDescribe},
		{"seen missing", dep(func(d *store.ObservedDeployment) { d.Observed = new(store.ObservedMissing) }),
			read, observer.ReadDescribe},
		{"seen stopping", dep(func(d *store.ObservedDeployment) { d.Observed = new(store.ObservedStopping) }),
			read, observer.ReadDescribe},
		{"never observed", dep(func(d *store.ObservedDeployment) { d.Observed, d.ObservedAt = nil, nil }),
			read, observer.ReadDescribe},
		{"being stopped, bot still beating", dep(func(d *store.ObservedDeployment) { d.State = store.DeploymentStopping }),
			read, observer.ReadDescribe},
		{"seen exited: an ended attempt stays ended", dep(func(d *store.ObservedDeployment) {
			d.Observed, d.LastHeartbeatAt = new(store.ObservedExited), nil
		}), time.Time{}, observer.ReadNone},
		{"not created yet", dep(func(d *store.ObservedDeployment) {
			d.State, d.ExternalID, d.Observed, d.ObservedAt, d.LastHeartbeatAt = store.DeploymentPending, nil, nil, nil, nil
		}), time.Time{}, observer.ReadNone},
		{"being created: no id to read, nothing decided on it", dep(func(d *store.ObservedDeployment) {
			d.State, d.ExternalID, d.Observed = store.DeploymentCreating, nil, nil
		}), time.Time{}, observer.ReadNone},
		{"stopping without an id: only a list proves it gone", dep(func(d *store.ObservedDeployment) {
			d.State, d.ExternalID = store.DeploymentStopping, nil
		}), read, observer.ReadList},
		{"an empty id is no id", dep(func(d *store.ObservedDeployment) {
			d.State, d.ExternalID = store.DeploymentStopping, new("")
		}), read, observer.ReadList},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, observer.NeedsRead(tc.d, tc.lastRead, now, f))
		})
	}
}
