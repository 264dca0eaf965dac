package main

import (
	"context"
	"errors"

	"go.uber.org/zap"

	"github.com/meeboter/meeboter/pkg/config"
)

// buildAWS builds the ECS platform.
func buildAWS(_ context.Context, _ config.Config, _ *zap.Logger) (platforms, error) {
	return platforms{}, errors.New("DEPLOYMENT_PLATFORM: aws is not built into this binary yet")
}
