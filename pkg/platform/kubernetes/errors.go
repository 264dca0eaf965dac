package kubernetes

import (
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/meeboter/meeboter/pkg/platform"
)

// createError classifies a refused create: a quota or an admission refusal
// is no capacity (the bot waits or tries the next platform); missing RBAC,
// a missing service account and an invalid pod are permanent (the
// configuration is wrong); anything else is retried.
func createError(name string, err error) error {
	switch {
	case apierrors.IsForbidden(err) && strings.Contains(err.Error(), "cannot create resource"):
		return platform.Permanent(fmt.Errorf("kubernetes: create pod %s: no permission: %w", name, err))
	case apierrors.IsForbidden(err) && strings.Contains(err.Error(), "error looking up service account"):
		return platform.Permanent(fmt.Errorf("kubernetes: create pod %s: KUBERNETES_SERVICE_ACCOUNT: %w", name, err))
	case apierrors.IsForbidden(err):
		return fmt.Errorf("%w: kubernetes: create pod %s refused: %w", platform.ErrCapacity, name, err)
	case apierrors.IsInvalid(err), apierrors.IsBadRequest(err):
		return platform.Permanent(fmt.Errorf("kubernetes: create pod %s: %w", name, err))
	}
	return fmt.Errorf("kubernetes: create pod %s: %w", name, err)
}
