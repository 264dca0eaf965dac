package store

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// Listen hands every wake-up sent on WakeChannel to fn until ctx ends or the
// connection fails, on a connection of its own (a connection waiting for
// notifications can do nothing else). Wake-ups sent while nobody listens are
// lost, so fn first gets WakeAll once listening has begun: a pass of every
// controller then covers what was sent before.
func Listen(ctx context.Context, cfg *pgx.ConnConfig, fn func(payload string)) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return wrap("listen", err)
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	if _, err := conn.Exec(ctx, "LISTEN "+WakeChannel); err != nil {
		return wrap("listen", err)
	}
	fn(WakeAll)
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return wrap("listen", err)
		}
		fn(n.Payload)
	}
}
