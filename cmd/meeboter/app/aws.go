package app

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/meeboter/meeboter/controllers"
	"github.com/meeboter/meeboter/pkg/config"
	"github.com/meeboter/meeboter/pkg/metrics"
	"github.com/meeboter/meeboter/pkg/platform/ecs"
)

// buildAWS builds the ECS platform: credentials from the SDK's default
// chain, the endpoint from AWS_ENDPOINT_URL_ECS when set (a simulator).
func buildAWS(ctx context.Context, cfg config.Config, _ *zap.Logger, m *metrics.Metrics) (platforms, error) {
	a := cfg.AWS
	client, err := ecs.NewClient(ctx, a.Region, "")
	if err != nil {
		return platforms{}, fmt.Errorf("AWS_REGION: %w", err)
	}
	var providers []types.CapacityProviderStrategyItem
	for _, name := range a.CapacityProviders {
		providers = append(providers, types.CapacityProviderStrategyItem{CapacityProvider: &name, Weight: 1})
	}
	p, err := ecs.New(client, ecs.Config{Cluster: a.Cluster, TaskDefinitions: a.TaskDefinitions, ContainerName: a.ContainerName,
		LaunchType: a.LaunchType, CapacityProviders: providers, Subnets: a.Subnets, SecurityGroups: a.SecurityGroups,
		AssignPublicIP: a.AssignPublicIP,
		ModifyRate:     rate.Limit(a.ModifyRate), ModifyBurst: a.ModifyBurst,
		ReadRate: rate.Limit(a.ReadRate), ReadBurst: a.ReadBurst,
		LaunchRate: rate.Limit(a.LaunchRate), LaunchBurst: a.LaunchBurst,
		OnRequest: ecsRequests(m)})
	if err != nil {
		return platforms{}, fmt.Errorf("ECS_CLUSTER: %w", err)
	}
	return platforms{list: []controllers.PlatformConfig{{Platform: p, Limit: a.BotLimit}}}, nil
}

// ecsRequests records the ECS platform's API calls. ECS throttles with a
// 400, so throttling is read from the error code (ecs.StatusOf), not the
// status.
func ecsRequests(m *metrics.Metrics) func(op string, err error, d time.Duration) {
	return func(op string, err error, d time.Duration) {
		status, throttled := ecs.StatusOf(err)
		m.PlatformRequest(ecs.Name, op, status, d, throttled)
	}
}
