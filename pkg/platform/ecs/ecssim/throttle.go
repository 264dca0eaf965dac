package ecssim

import "time"

// category is an ECS throttling category: every action in one shares a
// per-account, per-region token bucket.
type category string

const (
	catModify      category = "cluster-modify"      // RunTask, StopTask, …
	catRead        category = "cluster-read"        // DescribeTasks, ListTasks, …
	catClusterRead category = "cluster-list"        // DescribeClusters, ListClusters
	catTaskDefRead category = "task-def-read"       // DescribeTaskDefinition, …
	catTagRead     category = "tag-read"            // ListTagsForResource
	catFargate     category = "fargate-launch"      // On-Demand tasks launched
	catFargateSpot category = "fargate-spot-launch" // Spot tasks launched
)

// bucketSpecs are the burst capacities and refill rates (tokens per second)
// of the ECS API Reference "Request throttling" page, and the Fargate task
// launch rate quotas, which count tasks rather than calls.
var bucketSpecs = map[category]struct{ burst, rate float64 }{
	catModify:      {100, 40},
	catRead:        {100, 20},
	catClusterRead: {50, 20},
	catTaskDefRead: {50, 20},
	catTagRead:     {50, 20},
	catFargate:     {100, 20},
	catFargateSpot: {100, 20},
}

// bucket is a token bucket refilled continuously on the simulator's clock.
type bucket struct {
	tokens, burst, rate float64
	at                  time.Time
}

func newBuckets(now time.Time) map[category]*bucket {
	out := make(map[category]*bucket, len(bucketSpecs))
	for c, spec := range bucketSpecs {
		out[c] = &bucket{tokens: spec.burst, burst: spec.burst, rate: spec.rate, at: now}
	}
	return out
}

func (b *bucket) refill(now time.Time) {
	if elapsed := now.Sub(b.at).Seconds(); elapsed > 0 {
		b.tokens = min(b.burst, b.tokens+elapsed*b.rate)
	}
	b.at = now
}

// take removes n tokens if the bucket holds them: all or nothing, so a
// RunTask of 10 tasks is refused whole when only 9 launches are left.
func (b *bucket) take(now time.Time, n float64) bool {
	b.refill(now)
	if b.tokens < n {
		return false
	}
	b.tokens -= n
	return true
}

// launchCategory is the Fargate launch bucket of a capacity provider.
func launchCategory(provider string) category {
	if provider == providerFargateSpot {
		return catFargateSpot
	}
	return catFargate
}
